"""Counting PCM samples on their way to an MP3 encoder, shared by the in-process writer (voices.mp3) and the
child-process one (voices.lame_pipe). Light on purpose: the lameenc child imports it once per chapter."""

from __future__ import annotations

import lameenc

BYTES_PER_SAMPLE = 2  # 16-bit signed little-endian mono PCM, what espeak-ng produces


def lame_encoder(sample_rate: int, bitrate: int, quality: int) -> lameenc.Encoder:
    """libmp3lame through lameenc, mono, constant bitrate."""
    encoder = lameenc.Encoder()
    encoder.set_bit_rate(bitrate)
    encoder.set_in_sample_rate(sample_rate)
    encoder.set_channels(1)
    encoder.set_quality(quality)
    return encoder


class CountingWriter:
    """What the MP3 writers share: whole samples are counted as they are written (an odd byte waits for the
    next write), so clip times come from the count, never from decoding the MP3. Subclasses say where the
    bytes go (`_emit`) and whether they are `closed`."""

    sample_rate: int
    samples: int
    _odd: bytes

    @property
    def closed(self) -> bool:
        raise NotImplementedError

    def _emit(self, data: bytes) -> None:
        raise NotImplementedError

    def write(self, pcm: bytes) -> int:
        """Encode `pcm` and return the number of whole samples it added."""
        if self.closed:
            raise ValueError(f"write to a closed {type(self).__name__}")
        data = self._odd + bytes(pcm)
        whole = len(data) - len(data) % BYTES_PER_SAMPLE
        self._odd = data[whole:]
        if whole:
            self._emit(data[:whole])
        added = whole // BYTES_PER_SAMPLE
        self.samples += added
        return added

    def write_silence(self, samples: int) -> int:
        return self.write(bytes(samples * BYTES_PER_SAMPLE))

    @property
    def duration(self) -> float:
        return self.samples / self.sample_rate
