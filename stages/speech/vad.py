"""Segmentation at pauses: a stream of audio blocks -> speech segments of bounded length.

An energy voice-activity detector: the waveform is cut into ``FRAME_S`` frames; a frame is
speech when its level (dBFS, of the spectrum above ``band_low_hz``, so mains hum does not
count) is ``margin_db`` above the noise floor (a low percentile of the recent frame levels,
once there are ``NOISE_MIN_S`` of them) and above ``min_speech_db``.
A pause of ``end_pause_s`` ends a segment (once it holds ``MIN_SEGMENT_S``); audio without
one is buffered until ``max_segment_s`` have arrived, then cut in the longest pause of the
buffer's later part, or at its quietest moment when nobody paused. Each segment is trimmed to
its speech plus ``pad_s`` on both sides; a segment without speech is dropped, so silence gives
no segments at all.

Memory is flat (at most one ``max_segment_s`` buffer plus one block), and decisions look at
exactly ``max_segment_s`` of audio at a time, so the segments do not depend on the block size.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
from facespeech.stages.errors import InputError
from facespeech.stages.speech.types import Audio
from numpy.typing import NDArray

log = logging.getLogger(__name__)

FRAME_S = 0.02  # seconds per VAD frame
NOISE_FLOOR_PERCENTILE = 10.0  # of recent frame levels
NOISE_HISTORY_S = 30.0  # seconds of frame levels the noise floor is estimated over
# With less audio than this the floor is not estimated (a clip cut tightly around one word
# has no background to measure): only ``min_speech_db`` decides. Measured: 9 of fsdd's 250
# test digits (0.25-0.3 s long) were dropped as "steady" before this rule.
NOISE_MIN_S = 3.0
SILENT_DB = -100.0  # level of digital silence (log of zero)
MIN_SEGMENT_S = 1.0
# The recognizer was trained on single read sentences (mostly 1-8 s) and loses words when a
# segment holds several. On a 5.5-minute file of the 84 first speechocean762 dev sentences with
# 0.5 s pauses, beam + LM WER was 62.9 % with segments of up to 15 s cut only at the longest
# pause, 60.4 % with 10 s, 57.9 % with 8 s, 51.5 % with 6 s (each sentence on its own: 52.4 %);
# but 6 s segments cut the 10 % of speechocean762 sentences that are longer (test WER 50.9 ->
# 52.8 %). Ending a segment at any pause of END_PAUSE_S, with MAX_SEGMENT_S for speech without
# one: 51.7 % on that file (54.5 % under faint pink noise), and the dev sentences one by one
# unchanged at 52.0 % (a 0.5 s pause: 51.5 / 54.5 / 52.3 %; 1.0 s: 54.9 / 54.4 / 52.0 %).
MAX_SEGMENT_S = 12.0
END_PAUSE_S = 0.7
# The quietest point is looked for with levels smoothed over this long, so a cut never lands
# in the short dip inside a word.
SMOOTH_S = 0.1
# Pauses and quiet points are looked for after this fraction of max_segment_s, so segments
# are not needlessly short.
EARLIEST_CUT = 0.5
# Frame levels count only the spectrum above this: mains hum (50/60 Hz and its harmonics up to
# 180 Hz) and rumble are often as loud as the voice, and over them no frame was ever 12 dB above
# the floor. speechocean762 dev with a 50 Hz hum as loud as the speech (beam + LM): 78.1 % WER
# measuring the whole band, 51.0 % above 150 or 200 Hz (49.0 % without the hum; 50.1 % decoding each
# clip whole, so the rest is the recognizer's). The dev sentences as recorded: 49.0 % (whole
# band), 48.9 / 49.2 / 49.3 / 49.5 % above 0 (Hann frames) / 150 / 200 / 250 Hz; an 84-sentence
# file of them with 60 + 180 Hz hum: 78.9 % whole band, 63.1 / 51.0 / 50.3 / 49.2 % above
# 100 / 150 / 200 / 250 Hz (49.2 % without the hum). The voice's fundamental (85-255 Hz) is
# partly lost, but its harmonics and formants carry the level.
SPEECH_BAND_LOW_HZ = 200.0


class Segmenter:
    """Audio blocks (contiguous, one file) -> speech segments with their ``offset_s``.

    Args:
        max_segment_s: longest segment in seconds (audio is cut at pauses to keep under it).
        min_pause_s: the shortest non-speech run that counts as a pause.
        end_pause_s: a pause this long ends a segment (``None``: only ``max_segment_s`` cuts).
        pad_s: non-speech kept before the first and after the last speech frame of a segment.
        margin_db: how far above the noise floor a frame must be to count as speech.
        min_speech_db: frames quieter than this (dBFS) are never speech.
        band_low_hz: frame levels count the spectrum above this frequency only (0: all of it).
    """

    def __init__(
        self,
        *,
        max_segment_s: float = MAX_SEGMENT_S,
        min_pause_s: float = 0.25,
        end_pause_s: float | None = END_PAUSE_S,
        pad_s: float = 0.5,
        margin_db: float = 12.0,
        min_speech_db: float = -55.0,
        band_low_hz: float = SPEECH_BAND_LOW_HZ,
    ) -> None:
        if max_segment_s < MIN_SEGMENT_S:
            raise ValueError(f"max_segment_s must be >= {MIN_SEGMENT_S}, got {max_segment_s}")
        if not 0 < min_pause_s < max_segment_s * EARLIEST_CUT:
            raise ValueError(f"min_pause_s must be in (0, max_segment_s / 2), got {min_pause_s}")
        if pad_s < 0:
            raise ValueError(f"pad_s must be >= 0, got {pad_s}")
        if margin_db < 0:
            raise ValueError(f"margin_db must be >= 0, got {margin_db}")
        if end_pause_s is not None and end_pause_s < min_pause_s:
            raise ValueError(f"end_pause_s must be >= min_pause_s, got {end_pause_s}")
        if band_low_hz < 0:
            raise ValueError(f"band_low_hz must be >= 0, got {band_low_hz}")
        self.max_segment_s = max_segment_s
        self.min_pause_s = min_pause_s
        self.end_pause_s = end_pause_s
        self.pad_s = pad_s
        self.margin_db = margin_db
        self.min_speech_db = min_speech_db
        self.band_low_hz = band_low_hz

    def __call__(self, blocks: Iterable[Audio]) -> Iterator[Audio]:
        """Yield the speech segments of ``blocks`` in time order.

        Raises ``InputError`` (naming the file) for non-finite samples or blocks whose sample
        rate changes.
        """
        buffer = np.zeros(0, dtype=np.float32)
        start = 0  # sample index of buffer[0] in the file
        history: deque[float] = deque(maxlen=round(NOISE_HISTORY_S / FRAME_S))
        rate = 0
        first_offset_s = 0.0
        source = Path("<unknown>")
        for block in blocks:
            if rate == 0:
                rate, first_offset_s, source = block.sample_rate_hz, block.offset_s, block.source
            self._check(block, rate)
            buffer = np.concatenate([buffer, block.samples])
            window = round(self.max_segment_s * rate)
            while len(buffer) >= window:
                cut, segment, levels = self._next_cut(buffer[:window], history, rate, full=True)
                if segment is not None:
                    lo, hi = segment
                    offset_s = first_offset_s + (start + lo) / rate
                    yield Audio(source, buffer[lo:hi].copy(), rate, offset_s)
                history.extend(levels[: cut // round(FRAME_S * rate)].tolist())
                buffer, start = buffer[cut:], start + cut
        while len(buffer):  # the end: cut at long pauses only
            cut, segment, levels = self._next_cut(buffer, history, rate, full=False)
            if segment is not None:
                lo, hi = segment
                yield Audio(
                    source, buffer[lo:hi].copy(), rate, first_offset_s + (start + lo) / rate
                )
            history.extend(levels[: cut // round(FRAME_S * rate)].tolist())
            buffer, start = buffer[cut:], start + cut

    def _next_cut(
        self, window: NDArray[np.float32], history: deque[float], rate: int, *, full: bool
    ) -> tuple[int, tuple[int, int] | None, NDArray[np.float64]]:
        """Where to cut ``window`` (samples), the speech range before the cut, frame levels.

        A pause of ``end_pause_s`` after ``MIN_SEGMENT_S`` of audio ends the segment; a full
        window (``max_segment_s``) without one is cut as :meth:`_cut_frame` says; a last,
        shorter window without one is kept whole."""
        frame = round(FRAME_S * rate)
        levels = _levels(window, frame, low_bin=self._low_bin(frame, rate))
        floor = _floor(history, levels)
        cut_frame = self._end_pause(levels, floor)
        if cut_frame is None:
            cut_frame = self._cut_frame(levels, floor) if full else len(levels)
        cut = min(len(window), cut_frame * frame)
        return cut, self._trim(window[:cut], levels, floor, rate), levels

    def _end_pause(self, levels: NDArray[np.float64], floor: float) -> int | None:
        """Middle frame of the first pause of ``end_pause_s`` after ``MIN_SEGMENT_S``."""
        if self.end_pause_s is None:
            return None
        speech = levels > self._threshold(floor)
        if not speech.any():
            return None
        first_speech = int(np.argmax(speech))
        for lo, hi in _runs(~speech):
            mid = (lo + hi) // 2
            long_enough = hi - lo >= self.end_pause_s / FRAME_S
            if (
                long_enough
                and lo > first_speech
                and mid >= MIN_SEGMENT_S / FRAME_S
                and hi < len(levels)
            ):
                return mid
        return None

    @staticmethod
    def _check(block: Audio, rate: int) -> None:
        if block.sample_rate_hz != rate:
            raise InputError(
                block.source, f"sample rate changed from {rate} to {block.sample_rate_hz} Hz"
            )
        if not np.isfinite(block.samples).all():
            raise InputError(block.source, "audio contains NaN or infinite samples")

    def _low_bin(self, frame: int, rate: int) -> int:
        """First FFT bin of a ``frame``-sample frame at or above ``band_low_hz``."""
        if self.band_low_hz >= rate / 2:
            raise ValueError(
                f"band_low_hz ({self.band_low_hz} Hz) must be below Nyquist ({rate / 2} Hz)"
            )
        return int(np.ceil(self.band_low_hz * frame / rate))

    def _threshold(self, floor: float) -> float:
        return max(floor + self.margin_db, self.min_speech_db)

    def _cut_frame(self, levels: NDArray[np.float64], floor: float) -> int:
        """Frame index to cut a full window at: the longest late pause, else the quietest."""
        speech = levels > self._threshold(floor)
        earliest = int(len(levels) * EARLIEST_CUT)
        best_len, best_mid = 0, -1
        for lo, hi in _runs(~speech):
            mid = (lo + hi) // 2
            if hi - lo >= self.min_pause_s / FRAME_S and mid >= earliest and hi - lo >= best_len:
                best_len, best_mid = hi - lo, mid
        if best_mid > 0:
            return best_mid
        width = max(1, round(SMOOTH_S / FRAME_S))
        smooth = np.convolve(levels, np.ones(width) / width, mode="same")
        return earliest + int(np.argmin(smooth[earliest:]))

    def _trim(
        self, samples: NDArray[np.float32], levels: NDArray[np.float64], floor: float, rate: int
    ) -> tuple[int, int] | None:
        """Sample range of the speech in ``samples`` plus padding, or None without speech."""
        frame = round(FRAME_S * rate)
        n = len(samples) // frame + (len(samples) % frame > 0)
        speech = np.flatnonzero(levels[:n] > self._threshold(floor))
        if len(speech) == 0:
            return None
        pad = round(self.pad_s * rate)
        lo = max(0, int(speech[0]) * frame - pad)
        hi = min(len(samples), (int(speech[-1]) + 1) * frame + pad)
        return lo, hi


def _levels(samples: NDArray[np.float32], frame: int, *, low_bin: int = 0) -> NDArray[np.float64]:
    """Level of each frame in dBFS (the last frame may be partial): ``float64 (n_frames,)``.

    The mean power of the frame's samples from FFT bin ``low_bin`` up (Hann window, Parseval:
    with ``low_bin == 0`` a steady signal reads as its mean square), so the spectrum below that
    bin does not count."""
    n = -(-len(samples) // frame)
    if n == 0:
        return np.zeros(0, dtype=np.float64)
    padded = np.zeros((n, frame), dtype=np.float64)
    padded.reshape(-1)[: len(samples)] = samples
    window = _hann(frame)
    weights = np.full(n, float((window**2).sum()))
    last = len(samples) - (n - 1) * frame
    padded[:-1] *= window
    # The partial last frame gets a window of its own length, so it is weighed evenly.
    last_window = _hann(last)
    padded[-1, :last] *= last_window
    weights[-1] = max(float((last_window**2).sum()), 1e-12)
    spectrum = np.abs(np.fft.rfft(padded, axis=1)) ** 2  # (n, frame // 2 + 1)
    spectrum[:, 1 : (frame + 1) // 2] *= 2  # the negative frequencies, folded in
    power = spectrum[:, low_bin:].sum(axis=1) / frame / weights
    levels: NDArray[np.float64] = np.maximum(10.0 * np.log10(np.maximum(power, 1e-30)), SILENT_DB)
    return levels


def _hann(length: int) -> NDArray[np.float64]:
    """Periodic Hann window (all ones for a single sample)."""
    if length <= 1:
        return np.ones(max(length, 0))
    return 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(length) / length)


def _floor(history: deque[float], levels: NDArray[np.float64]) -> float:
    """The noise floor: a low percentile of recent and current frame levels (``SILENT_DB``
    when there are fewer than ``NOISE_MIN_S`` of them)."""
    if len(history) + len(levels) < NOISE_MIN_S / FRAME_S:
        return SILENT_DB
    return float(
        np.percentile(np.r_[np.fromiter(history, np.float64), levels], NOISE_FLOOR_PERCENTILE)
    )


def _runs(mask: NDArray[np.bool_]) -> Iterator[tuple[int, int]]:
    """``(start, stop)`` of each run of True values."""
    edges = np.diff(np.r_[0, mask.astype(np.int8), 0])
    yield from zip(
        np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(), strict=True
    )
