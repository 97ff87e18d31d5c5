"""MP3 encoding that streams, and the staging of an audio edition: one MP3 per chapter, tags, playlist, zip.

Every format we build (plain MP3, DAISY 2.02, EPUB 3 with Media Overlays) is a set of chapter MP3s plus some
text files, so they share `AudioBookBuilder`: chapters are encoded one by one into a work directory while only
their clips (text and sample offsets) stay in memory, and the archive is written at the end.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from mutagen.id3 import ID3, TALB, TCON, TIT2, TPE1, TRCK, TXXX

from voices.book import Clip, SpokenBook, SpokenChapter, check_id
from voices.pcm import CountingWriter, lame_encoder
from voices.zip_append import append_zip


class Mp3Writer(CountingWriter):
    """Encode PCM to a mono MP3 as it arrives, counting samples so clip times never depend on the MP3.

    lameenc prepends encoder delay and pads the last frame (~50 ms at 22.05 kHz) and writes no LAME/Xing
    tag, so the MP3 is a little longer than what was written; players start at the first sample anyway.
    """

    def __init__(self, path: Path | str, sample_rate: int, *, bitrate: int = 64, quality: int = 7) -> None:
        self.path = Path(path)
        self.sample_rate = sample_rate
        self.samples = 0
        self._encoder = lame_encoder(sample_rate, bitrate, quality)
        self._file = open(self.path, "wb")
        self._odd = b""  # an odd trailing byte, completed by the next write

    @property
    def closed(self) -> bool:
        return self._file.closed

    def _emit(self, data: bytes) -> None:
        self._file.write(self._encoder.encode(data))

    def close(self) -> int:
        """Flush the encoder; returns the samples written (the odd byte, if any, is dropped)."""
        if not self._file.closed:
            if self.samples:  # lameenc refuses to flush an encoder that never encoded
                self._file.write(self._encoder.flush())
            self._file.close()
        return self.samples

    def __enter__(self) -> Mp3Writer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ChapterEncoder:
    """Speak one chapter into its MP3, recording a clip per sentence from the running sample count.

    Usable on its own (for example in a worker process: the returned `SpokenChapter` is small and picklable)
    or through `AudioBookBuilder.begin_chapter`, which registers the chapter when it is closed.
    """

    def __init__(
        self,
        path: Path | str,
        chapter: SpokenChapter,
        sample_rate: int,
        *,
        bitrate: int = 64,
        quality: int = 7,
        on_close: Callable[[SpokenChapter, Path], None] | None = None,
        writer: Any = None,
    ) -> None:
        self.chapter = chapter
        self.path = Path(path)
        # A writer with Mp3Writer's interface may encode elsewhere (voices.lame_pipe: in a lame process).
        self._writer = (
            writer if writer is not None else Mp3Writer(path, sample_rate, bitrate=bitrate, quality=quality)
        )
        self._on_close = on_close
        self._ids: set[str] = {clip.sentence_id for clip in chapter.clips}

    def speak(
        self,
        sentence_id: str,
        text: str,
        pcm: bytes,
        *,
        paragraph: int = 0,
        heading: bool = False,
        depth: int = 0,
    ) -> Clip:
        """Append one sentence's audio; its clip spans exactly the samples of `pcm`."""
        check_id(sentence_id)
        if sentence_id in self._ids:
            raise ValueError(f"duplicate sentence id {sentence_id!r} in chapter {self.chapter.title!r}")
        self._ids.add(sentence_id)
        start = self._writer.samples
        self._writer.write(pcm)
        clip = Clip(
            sentence_id, text, start, self._writer.samples, paragraph=paragraph, heading=heading, depth=depth
        )
        self.chapter.clips.append(clip)
        return clip

    def silence(self, seconds: float) -> None:
        """A pause after the last sentence, counted in its clip so consecutive clips play seamlessly."""
        added = self._writer.write_silence(int(round(seconds * self._writer.sample_rate)))
        if self.chapter.clips:
            last = self.chapter.clips[-1]
            self.chapter.clips[-1] = dataclasses.replace(last, end_sample=last.end_sample + added)

    def close(self) -> SpokenChapter:
        self.chapter.total_samples = self._writer.close()
        if self._on_close is not None:
            callback, self._on_close = self._on_close, None
            callback(self.chapter, self.path)
        return self.chapter

    def __enter__(self) -> ChapterEncoder:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        if exc_type is None:
            self.close()
        else:  # a pipe writer stops its encoder at once; an in-process one just closes its file
            getattr(self._writer, "abort", self._writer.close)()


def tag_chapter_mp3(path: Path | str, book: SpokenBook, chapter_title: str, track: int, tracks: int) -> None:
    """ID3v2.4 tags so a phone or a DAISY-less player shows book, author and chapter in order."""
    tags = ID3()
    tags.add(TIT2(encoding=3, text=[chapter_title]))
    tags.add(TALB(encoding=3, text=[book.title]))
    if book.authors:
        tags.add(TPE1(encoding=3, text=list(book.authors)))
    tags.add(TRCK(encoding=3, text=[f"{track}/{tracks}"]))
    tags.add(TCON(encoding=3, text=["Audiobook"]))
    # ID3 has no frame for a book's identifier: user-defined text frames named as in the DAISY and EPUB
    # editions' metadata, so a file found on a phone still leads back to the library's record.
    tags.add(TXXX(encoding=3, desc="dc:identifier", text=[book.identifier]))
    if book.source:
        tags.add(TXXX(encoding=3, desc="dc:source", text=[book.source]))
    tags.save(str(path))


@dataclass(frozen=True)
class PlaylistEntry:
    filename: str  # relative to the playlist
    title: str
    seconds: float


def write_m3u(path: Path | str, entries: Iterable[PlaylistEntry], *, title: str | None = None) -> None:
    """Extended M3U in UTF-8 (the .m3u8 convention), so Chinese chapter titles survive."""
    lines = ["#EXTM3U"]
    if title:
        lines.append(f"#PLAYLIST:{_one_line(title)}")
    for entry in entries:
        lines.append(f"#EXTINF:{int(round(entry.seconds))},{_one_line(entry.title)}")
        lines.append(entry.filename)
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def write_zip(zip_path: Path | str, root: Path, names: Iterable[str], *, stored: Iterable[str] = ()) -> None:
    """Zip `names` (relative to `root`, in this order) atomically; MP3s and `stored` names are not deflated.

    Written to a temporary file first so a crash never leaves a half archive under the final name.
    """
    zip_path = Path(zip_path)
    keep_stored = set(stored)
    fd, tmp = tempfile.mkstemp(dir=zip_path.parent, prefix=zip_path.name, suffix=".part")
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w", allowZip64=True) as archive:
            for name in names:
                compress = (
                    zipfile.ZIP_STORED
                    if name in keep_stored or name.endswith(".mp3")
                    else zipfile.ZIP_DEFLATED
                )
                archive.write(root / name, name, compress_type=compress)
        os.replace(tmp, zip_path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def listen_name(index: int) -> str:
    """The file name of chapter `index` (0-based) published on its own beside the archive."""
    return f"chapter-{index + 1:03d}.mp3"


def _link_or_copy(source: Path, target: Path) -> None:
    target.unlink(missing_ok=True)
    try:
        os.link(source, target)
    except OSError:  # another file system, or one without hard links
        shutil.copyfile(source, target)
    target.chmod(0o644)


class AudioBookBuilder:
    """Chapters in, one archive out; subclasses write their text files as each chapter arrives."""

    audio_dir = ""  # where chapter MP3s live inside the archive, "" for the top

    def __init__(
        self,
        output: Path | str,
        book: SpokenBook,
        *,
        work_dir: Path | str | None = None,
        bitrate: int = 64,
        quality: int = 7,
        listen_dir: Path | str | None = None,
    ) -> None:
        self.output = Path(output)
        # Where each tagged chapter MP3 is also left as its own file (listen_name), for players that stream
        # one chapter at a time; hard links, so the audio is not stored twice.
        self.listen_dir = Path(listen_dir) if listen_dir is not None else None
        self.book = book
        self.bitrate = bitrate
        self.quality = quality
        self._own_work_dir = work_dir is None
        self.work_dir = (
            Path(tempfile.mkdtemp(dir=self.output.parent, prefix=f".{self.output.name}."))
            if work_dir is None
            else Path(work_dir)
        )
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.chapters: list[SpokenChapter] = []
        self.audio_files: list[str] = []  # archive-relative MP3 paths, one per chapter
        # Chapters whose MP3 came already tagged (kept from an earlier build): never tagged again, as their
        # file may be shared (hard-linked) with a cache. `on_tagged(index, path)` sees each newly tagged one.
        self.pretagged: set[int] = set()
        self.on_tagged: Callable[[int, Path], None] | None = None
        # The same edition's archive as last published: the new one is appended to it (voices.zip_append).
        self.previous_zip: Path | None = None
        self._closed = False

    # -- feeding chapters -------------------------------------------------------------------------------
    def audio_name(self, index: int) -> str:
        """Archive-relative path of chapter `index` (0-based)."""
        name = f"c{index + 1:03d}.mp3"
        return f"{self.audio_dir}/{name}" if self.audio_dir else name

    def begin_chapter(self, chapter: SpokenChapter) -> ChapterEncoder:
        """An encoder writing the next chapter's MP3 in place; closing it adds the chapter."""
        name = self.audio_name(len(self.chapters))
        target = self.work_dir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        return ChapterEncoder(
            target,
            chapter,
            self.book.sample_rate,
            bitrate=self.bitrate,
            quality=self.quality,
            on_close=self.add_chapter,
        )

    def add_chapter(self, chapter: SpokenChapter, mp3_path: Path | str) -> None:
        """Add a finished chapter whose MP3 was encoded elsewhere (moved into the work directory)."""
        if self._closed:
            raise ValueError("the book is already closed")
        if not chapter.clips:
            raise ValueError(f"chapter {chapter.title!r} has no spoken clips")
        if max(clip.end_sample for clip in chapter.clips) > chapter.total_samples:
            raise ValueError(f"chapter {chapter.title!r} has clips beyond the end of its audio")
        if len({clip.sentence_id for clip in chapter.clips}) != len(chapter.clips):
            raise ValueError(f"chapter {chapter.title!r} has duplicate sentence ids")
        index = len(self.chapters)
        name = self.audio_name(index)
        target = self.work_dir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if Path(mp3_path).resolve() != target.resolve():
            shutil.move(str(mp3_path), target)
        self.chapters.append(chapter)
        self.audio_files.append(name)
        self.chapter_added(index, chapter)
        self.chapters[index] = chapter.summary()

    def chapter_added(self, index: int, chapter: SpokenChapter) -> None:
        """Write what can be written as soon as a chapter is done (DAISY and EPUB: its text and SMIL)."""

    # -- finishing ------------------------------------------------------------------------------------------
    @property
    def total_seconds(self) -> float:
        return sum(chapter.total_samples for chapter in self.chapters) / self.book.sample_rate

    def finish(self) -> list[str]:
        """Write the remaining files; return every archive member in order (subclasses)."""
        raise NotImplementedError

    def stored_names(self) -> tuple[str, ...]:
        return ()

    def close(self) -> Path:
        if self._closed:
            return self.output
        if not self.chapters:
            raise ValueError("a book needs at least one chapter")
        for index, chapter in enumerate(self.chapters):
            if index in self.pretagged:
                continue
            path = self.work_dir / self.audio_files[index]
            tag_chapter_mp3(path, self.book, chapter.title, index + 1, len(self.chapters))
            if self.on_tagged is not None:
                self.on_tagged(index, path)
        names = self.finish()
        if self.previous_zip is None or not append_zip(
            self.previous_zip,
            self.output,
            self.work_dir,
            names,
            stored=self.stored_names(),
            same=self._published_again(),
        ):
            write_zip(self.output, self.work_dir, names, stored=self.stored_names())
        if self.listen_dir is not None:
            for index, name in enumerate(self.audio_files):
                _link_or_copy(self.work_dir / name, self.listen_dir / listen_name(index))
        self._closed = True
        self.cleanup()
        return self.output

    def _published_again(self) -> list[str]:
        """The kept chapters whose file is the previous publication's own chapter file (one inode, hard
        linked through the sentence cache): in that publication, each chapter file and the archive's member
        were written from one file, so the member holds the same bytes and need not be read to know it."""
        if self.previous_zip is None or self.listen_dir is None:
            return []
        same = []
        for index in sorted(self.pretagged):
            name = self.audio_files[index]
            try:
                if os.path.samefile(self.previous_zip.parent / listen_name(index), self.work_dir / name):
                    same.append(name)
            except OSError:
                continue
        return same

    def cleanup(self) -> None:
        if self._own_work_dir:
            shutil.rmtree(self.work_dir, ignore_errors=True)

    def __enter__(self) -> AudioBookBuilder:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self._closed = True
            self.cleanup()


class Mp3BookBuilder(AudioBookBuilder):
    """The plain MP3 edition: tagged chapter MP3s and an M3U playlist, zipped."""

    playlist_name = "playlist.m3u8"

    def finish(self) -> list[str]:
        rate = self.book.sample_rate
        entries = [
            PlaylistEntry(name, chapter.title, chapter.total_samples / rate)
            for name, chapter in zip(self.audio_files, self.chapters, strict=True)
        ]
        write_m3u(self.work_dir / self.playlist_name, entries, title=self.book.title)
        return [*self.audio_files, self.playlist_name]
