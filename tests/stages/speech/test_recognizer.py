"""CtcRecognizer and model bundles: shapes, batching, loading, errors, the shipped model."""

from __future__ import annotations

import pickle
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from facespeech.stages.errors import InputError, ModelError
from facespeech.stages.speech.alphabet import LABELS
from facespeech.stages.speech.recognizer import (
    CtcModel,
    CtcRecognizer,
    ModelConfig,
    bundle_dict,
    default_model_path,
    load_bundle,
    save_bundle,
)
from facespeech.stages.speech.spectrogram import LogMelSpectrogram
from facespeech.stages.speech.types import Audio, Spectrogram

SMALL = ModelConfig(conv_channels=4, rnn_hidden=16, rnn_layers=2)


@pytest.fixture
def small_model_path(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    path = tmp_path / "small.pt"
    save_bundle(path, CtcModel(SMALL), features=LogMelSpectrogram().features.config())
    return path


def spectrogram(n_frames: int, name: str = "x.wav", seed: int = 0) -> Spectrogram:
    values = np.random.default_rng(seed).standard_normal((80, n_frames)).astype(np.float32)
    return Spectrogram(source=Path(name), values=values, frame_s=0.01, offset_s=1.0)


def test_emissions_shape_and_frame_rate(small_model_path: Path) -> None:
    emissions = CtcRecognizer(model_path=small_model_path)(spectrogram(101))
    assert emissions.log_probs.dtype == np.float32
    assert emissions.log_probs.shape == (26, len(LABELS))  # 101 frames / 4, rounded up
    assert emissions.frame_s == pytest.approx(0.04)
    assert emissions.offset_s == 1.0
    np.testing.assert_allclose(np.exp(emissions.log_probs).sum(axis=1), 1.0, atol=1e-5)


def test_batch_equals_single(small_model_path: Path) -> None:
    recognizer = CtcRecognizer(model_path=small_model_path)
    items = [spectrogram(n, f"{n}.wav", seed=n) for n in (30, 200, 77)]
    for item, batched in zip(items, recognizer.batch(items), strict=True):
        alone = recognizer(item)
        assert batched.source == item.source
        np.testing.assert_allclose(batched.log_probs, alone.log_probs, atol=1e-5)


def test_float16_bundle_round_trip(tmp_path: Path) -> None:
    model = CtcModel(SMALL)
    path = tmp_path / "half.pt"
    save_bundle(
        path, model, features={"kind": "log_mel"}, metadata={"note": "x"}, dtype=torch.float16
    )
    raw = torch.load(path, weights_only=True)
    assert all(
        v.dtype == torch.float16 for v in raw["state_dict"].values() if v.is_floating_point()
    )
    bundle = load_bundle(path)
    assert bundle.metadata == {"note": "x"}
    assert bundle.model.config == SMALL
    assert not bundle.model.training
    for name, value in bundle.model.state_dict().items():
        assert value.dtype == torch.float32
        torch.testing.assert_close(value, model.state_dict()[name], atol=1e-2, rtol=1e-3)


def test_missing_model_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.pt"
    recognizer = CtcRecognizer(model_path=path)  # lazy: no error yet
    with pytest.raises(ModelError, match="no such model file") as info:
        recognizer(spectrogram(10))
    assert info.value.path == path


@pytest.mark.parametrize("content", [b"not a torch file", b""])
def test_corrupt_model_names_the_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.pt"
    path.write_bytes(content)
    with pytest.raises(ModelError) as info:
        load_bundle(path)
    assert info.value.path == path


def test_other_labels_or_format_refused(tmp_path: Path) -> None:
    bundle = bundle_dict(CtcModel(SMALL), features={})
    path = tmp_path / "labels.pt"
    torch.save({**bundle, "labels": ["_", "a"]}, path)
    with pytest.raises(ModelError, match="labels"):
        load_bundle(path)
    torch.save({"weights": torch.zeros(2)}, path)
    with pytest.raises(ModelError, match="not a facespeech-ctc"):
        load_bundle(path)


def test_wrong_spectrogram_shape_names_the_file(small_model_path: Path) -> None:
    bad = Spectrogram(source=Path("odd.wav"), values=np.zeros((40, 10), np.float32), frame_s=0.01)
    with pytest.raises(InputError, match="40") as info:
        CtcRecognizer(model_path=small_model_path)(bad)
    assert info.value.path == Path("odd.wav")


def test_pickles_without_weights(small_model_path: Path) -> None:
    recognizer = CtcRecognizer(model_path=small_model_path)
    recognizer(spectrogram(20))
    clone = pickle.loads(pickle.dumps(recognizer))
    assert clone._bundle is None
    assert clone.model_path == small_model_path


def test_int8_weights_stay_close_to_float32(small_model_path: Path) -> None:
    item = spectrogram(200)
    exact = CtcRecognizer(model_path=small_model_path)(item)
    recognizer = CtcRecognizer(model_path=small_model_path, int8=True)
    quantized = recognizer(item)
    assert "quantized" in type(recognizer.bundle.model.rnn).__module__
    assert quantized.log_probs.shape == exact.log_probs.shape
    assert not np.array_equal(quantized.log_probs, exact.log_probs)
    np.testing.assert_allclose(quantized.log_probs, exact.log_probs, atol=0.1)
    clone = pickle.loads(pickle.dumps(recognizer))
    assert clone.int8


def test_int8_is_refused_off_the_cpu(small_model_path: Path) -> None:
    with pytest.raises(ValueError, match="CPU only"):
        CtcRecognizer(model_path=small_model_path, device="cuda", int8=True)
    recognizer = CtcRecognizer(model_path=small_model_path, int8=True)
    with pytest.raises(ValueError, match="CPU only"):
        recognizer.to("cuda")


def test_residual_layers_start_as_the_identity_and_batch_like_single_items(
    tmp_path: Path,
) -> None:
    torch.manual_seed(0)
    plain = CtcModel(SMALL).eval()
    grown = CtcModel(replace(SMALL, residual_layers=2)).eval()
    grown.load_state_dict({**grown.state_dict(), **plain.state_dict()})
    features = torch.randn(2, 80, 120)
    lengths = torch.tensor([120, 64])
    with torch.inference_mode():
        torch.testing.assert_close(grown(features, lengths)[0], plain(features, lengths)[0])
    # Trained away from zero, the layers still give padded items what they get alone.
    with torch.no_grad():
        for layer in grown.residual:
            layer.out.weight.normal_(std=0.1)
    path = tmp_path / "grown.pt"
    save_bundle(path, grown, features=LogMelSpectrogram().features.config())
    bundle = load_bundle(path)
    assert bundle.model.config.residual_layers == 2
    recognizer = CtcRecognizer(model_path=path)
    items = [spectrogram(n, f"{n}.wav", seed=n) for n in (30, 90)]
    for item, batched in zip(items, recognizer.batch(items), strict=True):
        np.testing.assert_allclose(batched.log_probs, recognizer(item).log_probs, atol=1e-5)
    with torch.inference_mode():
        assert not torch.allclose(grown(features, lengths)[0], plain(features, lengths)[0])


def test_model_files_without_residual_layers_keep_their_config() -> None:
    assert "residual_layers" not in SMALL.to_dict()
    assert ModelConfig.from_dict(SMALL.to_dict()) == SMALL
    grown = replace(SMALL, residual_layers=1)
    assert ModelConfig.from_dict(grown.to_dict()) == grown


def test_bad_model_config() -> None:
    with pytest.raises(ValueError, match="rnn_layers"):
        ModelConfig(rnn_layers=0)
    with pytest.raises(ValueError, match="residual_layers"):
        ModelConfig(residual_layers=-1)
    with pytest.raises(ValueError, match="dropout"):
        ModelConfig(dropout=1.0)


def test_shipped_model_loads_and_runs_on_cpu() -> None:
    path = default_model_path()
    if not path.is_file():
        pytest.skip(f"shipped model not built yet: {path}")
    recognizer = CtcRecognizer()
    assert recognizer.path == path
    assert path.stat().st_size < 50 * 2**20
    rng = np.random.default_rng(0)
    audio = Audio(
        Path("noise.wav"), (0.01 * rng.standard_normal(16_000)).astype(np.float32), 16_000
    )
    emissions = recognizer(recognizer.spectrogram()(audio))
    assert emissions.log_probs.shape[1] == len(LABELS)
    assert emissions.log_probs.shape[0] > 20
    assert np.isfinite(emissions.log_probs).all()


def test_shipped_model_recognises_held_out_digits(speech_data: Path) -> None:
    from facespeech.pipelines.manifest import read_manifest
    from facespeech.stages.speech.audio import AudioLoader
    from facespeech.stages.speech.ctc_decode import GreedyCtcDecoder

    if not default_model_path().is_file():
        pytest.skip(f"shipped model not built yet: {default_model_path()}")
    rows = read_manifest(f"{speech_data / 'fsdd' / 'manifest.tsv'}:test")[::25]  # 10 clips
    recognizer = CtcRecognizer()
    spectrogram = recognizer.spectrogram()
    loader, decoder = AudioLoader(), GreedyCtcDecoder()
    texts = [decoder(recognizer(spectrogram(loader(row.path)))).text for row in rows]
    right = sum(text == row.transcript for text, row in zip(texts, rows, strict=True))
    assert right >= 9, list(zip(texts, [r.transcript for r in rows], strict=True))
