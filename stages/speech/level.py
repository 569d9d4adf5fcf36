"""Level: a DC offset removed and quiet recordings raised to the level the recognizer was
trained at, before the VAD.

The log-mel features are floored (``LOG_FLOOR``) before the per-utterance normalisation, and
the segmenter never takes frames under ``min_speech_db`` (-55 dBFS) for speech, so neither is
gain-invariant: speechocean762 dev read 20 dB quieter gave 57.9 % WER instead of 49.0 %, 35 dB
quieter 91.6 % (beam + LM). The training clips peak at -16 to -2 dBFS (speechocean762,
5th-95th percentile) and -34 to -7 dBFS (fsdd), and nothing in training changes their gain, so
a file whose peak is below ``min_peak_db`` is amplified to that peak; louder ones are left
exactly as they are (the benchmark sets: speechocean762 dev unchanged, one fsdd dev digit of
250 different, fsdd test the same WER; 20 and 35 dB quieter, speechocean762 dev gives 50.7 and
49.8 % with it).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace

import numpy as np
from facespeech.stages.speech.types import Audio
from numpy.typing import NDArray

DEFAULT_MIN_PEAK_DB = -20.0  # dBFS; below the peak of 95 % of speechocean762's training clips
DEFAULT_MAX_GAIN_DB = 40.0  # a faint hiss is not turned into a loud one
# A block's mean (DC offset) is subtracted where it is above DC_TOLERANCE and above DC_RATIO
# times the block's standard deviation: an offset of a cheap sound card as loud as the speech
# lifted every frame to the same level, so the segmenter, when it measured the whole band, found
# no speech above the noise floor (the sample sentence with an offset of 0.2: empty text). It
# now measures above 200 Hz and ignores the offset; the removal keeps a large one out of the
# features, whose Hann windows leak it into the lowest mel bands. Smaller offsets are left: flite's
# voices, heard in training, carry 0.2-6 % of their deviation as offset and fsdd's up to 22 %;
# removing those cost 0.7 points on the unseen voices (49.7 -> 50.4 %) and changed 5 fsdd
# digits.
DC_TOLERANCE = 1e-3
DC_RATIO = 0.25


class LevelNormalizer:
    """Audio blocks of one file -> the same blocks, DC offset removed, amplified when quiet.

    The gain raises the peak seen so far to ``min_peak_db`` (dBFS), at most ``max_gain_db``,
    never below 1. Since the peak so far only grows, the gain only falls along a file: a loud
    passage after a quiet start lowers it from there on (nothing is clipped, as the gain is set
    by the block's own peak too), and a quiet passage after a loud one is not raised above its
    surroundings. Digital silence stays silence.
    """

    def __init__(
        self,
        min_peak_db: float = DEFAULT_MIN_PEAK_DB,
        max_gain_db: float = DEFAULT_MAX_GAIN_DB,
    ) -> None:
        if min_peak_db > 0:
            raise ValueError(f"min_peak_db is dBFS, at most 0, got {min_peak_db}")
        if max_gain_db < 0:
            raise ValueError(f"max_gain_db must be >= 0, got {max_gain_db}")
        self.target_peak = 10 ** (min_peak_db / 20)
        self.max_gain = 10 ** (max_gain_db / 20)

    def gain(self, peak: float) -> float:
        """The factor for audio whose peak (absolute sample value) is ``peak``."""
        if peak <= 0.0:
            return 1.0
        return float(min(max(self.target_peak / peak, 1.0), self.max_gain))

    def __call__(self, blocks: Iterable[Audio]) -> Iterator[Audio]:
        peak_so_far = 0.0
        for block in blocks:
            samples = _without_dc(block.samples)
            peak_so_far = max(peak_so_far, _peak(samples))
            gain = self.gain(peak_so_far)
            if gain != 1.0:
                samples = np.clip(samples * np.float32(gain), -1.0, 1.0)
            if samples is block.samples:
                yield block
            else:
                yield replace(block, samples=samples.astype(np.float32, copy=False))


def _without_dc(samples: NDArray[np.float32]) -> NDArray[np.float32]:
    """``samples`` less their mean, where the offset is large (above): else as they are."""
    if not samples.size:
        return samples
    mean = float(samples.mean())
    if abs(mean) <= max(DC_TOLERANCE, DC_RATIO * float(samples.std())):
        return samples
    return (samples - np.float32(mean)).astype(np.float32)


def _peak(samples: NDArray[np.float32]) -> float:
    return float(np.max(np.abs(samples))) if samples.size else 0.0
