"""Spectrogram stages against a librosa reference; shapes, normalisation, padding, batching."""

from __future__ import annotations

from pathlib import Path

import librosa
import numpy as np
import pytest
from facespeech.stages.errors import InputError
from facespeech.stages.speech.spectrogram import (
    HOP_LENGTH,
    LOG_FLOOR,
    LinearSpectrogram,
    LogMelFeatures,
    LogMelSpectrogram,
    mel_filter_bank,
)
from facespeech.stages.speech.types import Audio


@pytest.fixture
def noise_audio() -> Audio:
    rng = np.random.default_rng(7)
    samples = (0.1 * rng.standard_normal(16_000)).astype(np.float32)
    return Audio(source=Path("noise.wav"), samples=samples, sample_rate_hz=16_000)


def test_mel_filters_equal_librosa() -> None:
    ours = mel_filter_bank(
        sample_rate_hz=16_000, n_fft=512, n_mels=80, f_min_hz=20.0, f_max_hz=8000.0
    )
    ref = librosa.filters.mel(sr=16_000, n_fft=512, n_mels=80, fmin=20.0, fmax=8000.0)
    assert ours.shape == (80, 257)
    np.testing.assert_allclose(ours, ref, atol=1e-6)


def test_log_mel_equals_librosa(noise_audio: Audio) -> None:
    spec = LogMelSpectrogram(normalize=False, pad_s=0.0)(noise_audio)
    ref = librosa.feature.melspectrogram(
        y=noise_audio.samples, sr=16_000, n_fft=512, hop_length=160, win_length=320,
        window="hann", center=True, pad_mode="constant", power=2.0, n_mels=80, fmin=20.0,
    )  # fmt: skip
    assert spec.values.shape == ref.shape == (80, 101)
    assert spec.values.dtype == np.float32
    assert spec.frame_s == pytest.approx(0.01)
    np.testing.assert_allclose(spec.values, np.log(np.maximum(ref, LOG_FLOOR)), atol=1e-3)


def test_linear_equals_librosa_stft(noise_audio: Audio) -> None:
    spec = LinearSpectrogram(normalize=False)(noise_audio)
    stft = librosa.stft(
        noise_audio.samples, n_fft=512, hop_length=160, win_length=320, window="hann",
        center=True, pad_mode="constant",
    )  # fmt: skip
    ref = np.log(np.maximum(np.abs(stft) ** 2, LOG_FLOOR))
    assert spec.values.shape == (257, 101)
    np.testing.assert_allclose(spec.values, ref, atol=1e-3)


def test_normalised_per_bin(noise_audio: Audio) -> None:
    values = LogMelSpectrogram(pad_s=0.0)(noise_audio).values
    np.testing.assert_allclose(values.mean(axis=1), 0.0, atol=1e-4)
    np.testing.assert_allclose(values.std(axis=1), 1.0, atol=1e-2)


def test_padding_adds_frames_and_moves_offset(noise_audio: Audio) -> None:
    stage = LogMelSpectrogram(pad_s=0.15)
    shifted = Audio(noise_audio.source, noise_audio.samples, 16_000, offset_s=10.0)
    spec = stage(shifted)
    assert spec.values.shape == (80, 1 + (16_000 + 2 * 2400) // HOP_LENGTH)
    assert spec.offset_s == pytest.approx(9.85)


def test_batch_equals_single() -> None:
    rng = np.random.default_rng(3)
    clips = [
        Audio(Path(f"{n}.wav"), (0.1 * rng.standard_normal(n)).astype(np.float32), 16_000)
        for n in (4_000, 16_000, 9_999)
    ]
    stage = LogMelSpectrogram()
    batched = stage.batch(clips)
    for clip, spec in zip(clips, batched, strict=True):
        alone = stage(clip)
        assert spec.source == clip.source
        assert spec.values.shape == alone.values.shape
        np.testing.assert_allclose(spec.values, alone.values, atol=1e-4)


def test_silence_gives_finite_zeros() -> None:
    silent = Audio(Path("silence.wav"), np.zeros(8_000, dtype=np.float32), 16_000)
    values = LogMelSpectrogram()(silent).values
    assert np.isfinite(values).all()
    np.testing.assert_allclose(values, 0.0, atol=1e-3)


def test_wrong_rate_and_empty_audio_name_the_file() -> None:
    stage = LogMelSpectrogram()
    with pytest.raises(InputError, match="8000 Hz") as info:
        stage(Audio(Path("low.wav"), np.zeros(800, np.float32), 8_000))
    assert info.value.path == Path("low.wav")
    with pytest.raises(InputError, match="no audio"):
        stage(Audio(Path("empty.wav"), np.zeros(0, np.float32), 16_000))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"n_mels": 0}, "n_mels"), ({"hop_length": 0}, "hop_length"), ({"n_fft": 256}, "n_fft"),
     ({"f_max_hz": 9000.0}, "f_max_hz"), ({"pad_s": -1.0}, "pad_s")],
)  # fmt: skip
def test_bad_settings_raise(kwargs: dict[str, float], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        LogMelFeatures(**kwargs)  # type: ignore[arg-type]


def test_config_round_trip() -> None:
    stage = LogMelSpectrogram(n_mels=40, pad_s=0.1)
    again = LogMelSpectrogram.from_config(stage.features.config())
    assert again.features.config() == stage.features.config()
