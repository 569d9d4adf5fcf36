"""LevelNormalizer: quiet files raised to the training level, loud ones untouched."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from facespeech.stages.speech.level import LevelNormalizer
from facespeech.stages.speech.types import Audio
from facespeech.stages.speech.vad import Segmenter

RATE = 16_000


def block(peak: float, seconds: float = 1.0, offset_s: float = 0.0) -> Audio:
    t = np.arange(round(seconds * RATE)) / RATE
    samples = (peak * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    return Audio(Path("a.wav"), samples, RATE, offset_s)


def peak_db(audio: Audio) -> float:
    return 20 * float(np.log10(np.abs(audio.samples).max()))


def test_loud_audio_is_passed_through_unchanged() -> None:
    loud = block(0.5)
    [out] = LevelNormalizer()([loud])
    assert out is loud


def test_quiet_audio_is_raised_to_the_minimum_peak() -> None:
    [out] = LevelNormalizer(min_peak_db=-20.0)([block(0.001)])  # -60 dBFS
    assert peak_db(out) == pytest.approx(-20.0, abs=0.01)
    assert out.offset_s == 0.0
    assert out.sample_rate_hz == RATE


def test_gain_is_capped_and_silence_stays_silent() -> None:
    level = LevelNormalizer(min_peak_db=-20.0, max_gain_db=30.0)
    [out] = level([block(1e-5)])  # -100 dBFS: 80 dB would be needed
    assert peak_db(out) == pytest.approx(-70.0, abs=0.01)
    silence = Audio(Path("s.wav"), np.zeros(RATE, np.float32), RATE)
    [out] = level([silence])
    assert not out.samples.any()


def test_gain_only_falls_along_a_file_and_never_clips() -> None:
    blocks = [block(0.01, offset_s=0), block(0.5, offset_s=1), block(0.01, offset_s=2)]
    out = list(LevelNormalizer(min_peak_db=-20.0)(blocks))
    assert peak_db(out[0]) == pytest.approx(-20.0, abs=0.01)  # quiet start: raised
    assert out[1] is blocks[1]  # a loud passage: left alone, not clipped
    assert out[2] is blocks[2]  # quiet after loud: not raised above its surroundings


def test_quiet_speech_is_segmented_like_loud_speech() -> None:
    # The segmenter never takes frames under -55 dBFS for speech; raised first, a file 50 dB
    # quieter gives the same segments.
    def file(peak: float) -> list[Audio]:
        silence = np.zeros(RATE, np.float32)
        samples = np.concatenate([silence, block(peak, 2.0).samples, silence])
        return [Audio(Path("a.wav"), samples, RATE)]

    spans = {
        peak: [(s.offset_s, s.duration_s) for s in Segmenter()(LevelNormalizer()(file(peak)))]
        for peak in (0.3, 0.001)
    }
    assert spans[0.3]
    assert spans[0.001] == spans[0.3]
    assert list(Segmenter()(file(0.001))) == []  # without it, the quiet tone is not speech


def test_a_dc_offset_is_removed_so_pauses_are_found() -> None:
    silence = np.zeros(RATE, np.float32)
    speech = np.concatenate([silence, block(0.3, 2.0).samples, silence])
    offset = Audio(Path("a.wav"), speech + np.float32(0.2), RATE)
    # Measured over the whole band, every frame is about as loud as the offset: the tone is not
    # above the noise floor (the segmenter's default band, above 200 Hz, leaves the offset out).
    assert list(Segmenter(band_low_hz=0.0)([offset])) == []
    [out] = LevelNormalizer()([offset])
    assert abs(float(out.samples.mean())) < 1e-6
    clean = [(s.offset_s, s.duration_s) for s in Segmenter()([Audio(Path("a.wav"), speech, RATE)])]
    assert [(s.offset_s, s.duration_s) for s in Segmenter()([out])] == clean
