"""Weight averaging of recognizer bundles (``pipelines/speech_average.py``)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
from facespeech.pipelines.speech_average import average_bundles
from facespeech.stages.speech.recognizer import CtcModel, ModelConfig, load_bundle, save_bundle
from facespeech.stages.speech.spectrogram import LogMelFeatures

TINY = ModelConfig(conv_channels=4, rnn_hidden=8, rnn_layers=1)


def bundle(path: Path, seed: int, config: ModelConfig = TINY) -> Path:
    torch.manual_seed(seed)
    save_bundle(path, CtcModel(config).eval(), features=LogMelFeatures().config())
    return path


def test_weighted_average_of_two_models(tmp_path: Path) -> None:
    a, b = bundle(tmp_path / "a.pt", 0), bundle(tmp_path / "b.pt", 1)
    out = tmp_path / "avg.pt"
    average_bundles([a, b], [3.0, 1.0], out)
    averaged = load_bundle(out)
    wa, wb = load_bundle(a).model.state_dict(), load_bundle(b).model.state_dict()
    for name, value in averaged.model.state_dict().items():
        expected = (0.75 * wa[name] + 0.25 * wb[name]).half().float()
        torch.testing.assert_close(value, expected, atol=1e-3, rtol=1e-3)
    assert [s["weight"] for s in averaged.metadata["averaged_from"]] == [3.0, 1.0]


def test_models_trained_with_other_dropout_average(tmp_path: Path) -> None:
    a = bundle(tmp_path / "a.pt", 0)
    b = bundle(tmp_path / "b.pt", 1, dataclasses.replace(TINY, dropout=0.0))
    out = tmp_path / "avg.pt"
    average_bundles([a, b], [1.0, 1.0], out)
    averaged = load_bundle(out)
    assert averaged.model.config == load_bundle(a).model.config  # the first one's dropout
    wa, wb = load_bundle(a).model.state_dict(), load_bundle(b).model.state_dict()
    name = next(iter(wa))
    expected = (0.5 * wa[name] + 0.5 * wb[name]).half().float()
    torch.testing.assert_close(averaged.model.state_dict()[name], expected, atol=1e-3, rtol=1e-3)


def test_other_architectures_are_refused(tmp_path: Path) -> None:
    a = bundle(tmp_path / "a.pt", 0)
    b = bundle(tmp_path / "b.pt", 1, ModelConfig(conv_channels=4, rnn_hidden=12, rnn_layers=1))
    with pytest.raises(ValueError, match="another architecture"):
        average_bundles([a, b], [1.0, 1.0], tmp_path / "avg.pt")
    with pytest.raises(ValueError, match="one weight per model"):
        average_bundles([a], [1.0, 1.0], tmp_path / "avg.pt")
