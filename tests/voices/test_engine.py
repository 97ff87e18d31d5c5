"""Both speech engines against the real espeak-ng and the real pyttsx3: durations, voices, and the pyttsx3
defects listed in docs/TOOLCHAIN.md (early return, segfault-size input, crashed or hung worker, unknown
voices)."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
import wave
from pathlib import Path

import pytest

from voices.engine import Audio, SpeechError, UnknownVoiceError, engine_by_name, join_audio, silent_env
from voices.espeak_engine import EspeakEngine
from voices.libespeak_engine import LibespeakEngine
from voices.pyttsx3_engine import Pyttsx3Engine
from voices.runs import synthesize_speech
from voices.text import speech_text

ENGLISH = "Call me Ishmael. Some years ago, never mind how long precisely, I thought I would sail."


def cli_samples(tmp_path: Path, text: str, voice: str = "en-us", rate: int = 175) -> int:
    """Sample count of the same text through the espeak-ng program: the reference for complete audio."""
    path = tmp_path / "reference.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(rate), "-w", str(path), text], check=True)
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes()


@pytest.fixture(scope="module")
def pyttsx3_engine():
    engine = Pyttsx3Engine()
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def libespeak_engine():
    engine = LibespeakEngine()
    yield engine
    engine.close()


@pytest.fixture(params=["pyttsx3", "libespeak", "espeak"])
def engine(request, pyttsx3_engine, libespeak_engine):
    return {"pyttsx3": pyttsx3_engine, "libespeak": libespeak_engine}.get(request.param) or EspeakEngine()


@pytest.fixture(params=["pyttsx3", "libespeak"])
def supervised(request, pyttsx3_engine, libespeak_engine):
    """The engines that keep libespeak-ng in a supervised child process."""
    return pyttsx3_engine if request.param == "pyttsx3" else libespeak_engine


SUPERVISED = pytest.mark.parametrize("engine_class", [Pyttsx3Engine, LibespeakEngine])


def test_audio_duration_is_counted_from_samples():
    audio = Audio(b"\x01\x00" * 33075, 22050)
    assert audio.samples == 33075
    assert audio.duration == 1.5
    assert join_audio([audio, Audio.silence(0.5, 22050)]).duration == 2.0
    with pytest.raises(ValueError):
        Audio(b"\x00\x00\x00", 22050)
    with pytest.raises(ValueError):
        join_audio([audio, Audio(b"", 16000)])


def test_engine_registry():
    assert isinstance(engine_by_name("espeak"), EspeakEngine)
    assert isinstance(engine_by_name("libespeak"), LibespeakEngine)
    default = engine_by_name()
    assert isinstance(default, LibespeakEngine)  # pyttsx3's binding, called synchronously
    default.close()
    with pytest.raises(ValueError, match="unknown speech engine"):
        engine_by_name("festival")


def test_english_audio_is_complete_and_duration_matches_samples(engine, tmp_path):
    audio = engine.synthesize(ENGLISH, voice="en-us", rate=175)
    assert audio.sample_rate == 22050
    assert audio.samples == len(audio.pcm) // 2
    assert audio.duration == audio.samples / audio.sample_rate
    assert audio.samples == pytest.approx(cli_samples(tmp_path, ENGLISH), rel=0.05)


def test_rate_changes_duration(engine):
    slow = engine.synthesize("The quick brown fox jumps over the lazy dog.", voice="en-us", rate=120)
    fast = engine.synthesize("The quick brown fox jumps over the lazy dog.", voice="en-us", rate=300)
    assert fast.duration < slow.duration * 0.6


def test_unknown_voice_is_refused(engine):
    with pytest.raises(UnknownVoiceError, match="unknown voice 'no-such-voice'"):
        engine.synthesize("Hello.", voice="no-such-voice", rate=175)
    with pytest.raises(ValueError, match="rate"):
        engine.synthesize("Hello.", voice="en-us", rate=5)


def test_voices_include_english_and_mandarin_pinyin(engine):
    ids = {voice.id: voice for voice in engine.voices()}
    assert "en-us" in ids and "cmn-latn-pinyin" in ids
    assert "Pinyin" in ids["cmn-latn-pinyin"].name
    # display names are accepted too, and mean the same voice
    by_name = engine.synthesize("ni3 hao3", voice="Chinese (Mandarin, latin as Pinyin)", rate=175)
    by_id = engine.synthesize("ni3 hao3", voice="cmn-latn-pinyin", rate=175)
    assert by_name.samples == pytest.approx(by_id.samples, rel=0.05)


def test_engines_speak_pinyin_and_mixed_text(engine, tmp_path):
    pinyin = engine.synthesize("yin2 hang2 hang2 zhang3", voice="cmn-latn-pinyin", rate=175)
    assert pinyin.samples == pytest.approx(
        cli_samples(tmp_path, "yin2 hang2 hang2 zhang3", "cmn-latn-pinyin"), rel=0.05
    )
    sentence = "银行行长说：OK，我们第3次见面。"
    mixed = synthesize_speech(engine, speech_text(sentence, "zh"), lang="zh", rate=175)
    chinese_only = synthesize_speech(engine, speech_text("我们第三次见面。", "zh"), lang="zh", rate=175)
    assert mixed.duration > chinese_only.duration > 0.5


def test_twenty_consecutive_calls_give_complete_audio(supervised, tmp_path):
    """pyttsx3 #219: a naive loop returned 0 of 20 complete files."""
    for number in range(20):
        text = f"This is call number {number}, and its audio must be complete."
        audio = supervised.synthesize(text, voice="en-us", rate=175)
        assert audio.samples == pytest.approx(cli_samples(tmp_path, text), rel=0.05), number


def test_fifteen_thousand_letters_do_not_kill_the_job(supervised):
    letters = ("abcdefghijklmnopqrstuvwxyz" * 600)[:15000]
    audio = supervised.synthesize(letters, voice="en-us", rate=450)
    assert audio.duration > 10
    assert supervised.synthesize("Still here.", voice="en-us", rate=175).duration > 0.3


@SUPERVISED
def test_a_worker_killed_mid_synthesis_is_replaced(engine_class):
    with engine_class() as engine:
        short = engine.synthesize("Warm up.", voice="en-us", rate=175)
        assert short.samples
        first_pid = engine.worker_pid
        text = " ".join(f"Sentence {n} of a long paragraph, spoken slowly." for n in range(40))
        reference = engine.synthesize(text, voice="en-us", rate=175).samples
        result: dict[str, Audio] = {}
        thread = threading.Thread(
            target=lambda: result.update(audio=engine.synthesize(text, voice="en-us", rate=175))
        )
        thread.start()
        time.sleep(0.05)
        os.kill(first_pid, signal.SIGSEGV)  # what the len*10 buffer overflow does to the child
        thread.join(timeout=60)
        assert result["audio"].samples == pytest.approx(reference, rel=0.05)
        assert engine.worker_pid not in (None, first_pid)
        assert engine.restarts >= 1
        assert engine.synthesize("And the next call works.", voice="en-us", rate=175).duration > 0.5


@SUPERVISED
def test_a_worker_that_does_not_answer_in_time_is_replaced(engine_class):
    with engine_class(seconds_per_char=0.0, retries=1) as engine:
        assert engine.voices()  # cached: only speech is timed out below
        first_pid = engine.worker_pid
        engine.timeout = 0.0
        with pytest.raises(SpeechError, match="did not answer in time"):
            engine.synthesize("Too slow for a zero time limit.", voice="en-us", rate=175)
        assert engine.restarts >= 2
        engine.timeout = 20.0
        assert engine.synthesize("Now there is time.", voice="en-us", rate=175).duration > 0.5
        assert engine.worker_pid != first_pid


def test_libespeak_sounds_like_the_espeak_ng_program(tmp_path):
    """The same library, voice and rate: the same samples as the CLI and as pyttsx3, not merely similar.
    Fresh engines: libespeak-ng carries a little state from one utterance to the next (a sentence after a
    fast one came out 263 samples longer, through either engine), and the CLI always starts fresh."""
    text = "Well, Prince, so Genoa and Lucca are now just family estates of the Buonapartes."
    with LibespeakEngine() as direct_engine, Pyttsx3Engine() as pyttsx3_engine:
        direct = direct_engine.synthesize(text, voice="en-us", rate=175)
        assert direct.sample_rate == 22050
        assert direct.samples == cli_samples(tmp_path, text)
        assert direct.pcm == pyttsx3_engine.synthesize(text, voice="en-us", rate=175).pcm


def test_speech_processes_name_a_sound_server_by_socket_path_not_host_name():
    """`PULSE_SERVER=none` made libpulse ask the DNS for a host called "none" in every espeak-ng process
    (up to 5 s each where the resolver does not answer); a socket path that cannot exist fails at once."""
    server = silent_env()["PULSE_SERVER"]
    assert server.startswith("unix:/")
    assert not Path(server.removeprefix("unix:")).exists()
