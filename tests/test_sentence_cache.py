"""The sentence cache's bound: kept by a running total and an index of last use (voices.sentence_cache),
not by listing the cache's files, and the least recently used go first."""

from __future__ import annotations

import os
import time
from pathlib import Path

from voices.sentence_cache import INDEX, SentenceCache, cache_key


def _on_disk(root: Path) -> int:
    return sum(p.stat().st_size for p in root.glob("*/*") if not p.name.startswith(".part-"))


def test_eviction_keeps_the_bound_and_removes_the_least_recently_used_first(tmp_path: Path) -> None:
    cache = SentenceCache(tmp_path, 10_000)
    keys = [cache_key(f"sentence {n}", "en", 175) for n in range(30)]
    for key in keys[:10]:
        cache.put(key, bytes(1000))
    assert cache.size() == _on_disk(tmp_path) == 10_000  # exactly at its bound: nothing goes
    for key in keys[:5]:  # the first five are heard again: now the most recently used
        assert cache.get(key) is not None
    for number, key in enumerate(keys[10:], start=10):
        cache.put(key, bytes(1000))
        assert cache.size() == _on_disk(tmp_path) <= 10_000, number
    # Ten fit: the last ten written. Before them went, in order, keys 5-9 (never used again), then 0-4.
    assert [key for key in keys if cache.path(key).exists()] == keys[20:]
    cache.put(keys[0], bytes(1000))
    assert not cache.path(keys[20]).exists() and cache.size() == 10_000


def test_two_caches_on_one_directory_share_one_total(tmp_path: Path) -> None:
    """Like the web processes and a worker: what one writes counts against the other's bound."""
    first, second = SentenceCache(tmp_path, 3000), SentenceCache(tmp_path, 3000)
    keys = [cache_key(f"sentence {n}", "en", 175) for n in range(4)]
    first.put(keys[0], bytes(1000))
    second.put(keys[1], bytes(1000))
    first.put(keys[2], bytes(1000))
    assert second.size() == 3000
    second.put(keys[3], bytes(1000))
    assert not first.path(keys[0]).exists() and first.size() == _on_disk(tmp_path) == 3000


def test_a_cache_from_before_the_index_is_counted_once_in_its_files_age_order(tmp_path: Path) -> None:
    keys = [cache_key(f"sentence {n}", "en", 175) for n in range(3)]
    for number, key in enumerate(keys):
        path = tmp_path / key[:2] / f"{key}.pcm"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(bytes(1000))
        stamp = time.time() - 100 + number
        os.utime(path, (stamp, stamp))
    assert not (tmp_path / INDEX).exists()
    cache = SentenceCache(tmp_path, 3000)
    assert cache.size() == 3000
    cache.put(cache_key("one more", "en", 175), bytes(1000))
    assert not cache.path(keys[0]).exists()
    assert cache.path(keys[1]).exists() and cache.path(keys[2]).exists() and cache.size() == 3000


def test_uses_kept_in_memory_count_once_written(tmp_path: Path) -> None:
    """Uses are written to the index in batches; one flushed by `flush` still protects its file."""
    keys = [cache_key(f"sentence {n}", "en", 175) for n in range(3)]
    cache = SentenceCache(tmp_path, 2000)
    cache.put(keys[0], bytes(1000))
    cache.put(keys[1], bytes(1000))
    assert cache.get(keys[0]) is not None
    cache.flush()
    other = SentenceCache(tmp_path, 2000)  # another process: sees the use only through the index
    other.put(keys[2], bytes(1000))
    assert cache.path(keys[0]).exists() and not cache.path(keys[1]).exists()
