"""The speech pipeline end to end on generated audio, with a tiny untrained recognizer (the
plumbing: order, errors, segment times) and a stand-in decoder (exact merged transcripts)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr
import torch
from facespeech.pipelines.speech import FileTranscript, evaluate, make_decoder, transcribe
from facespeech.stages.errors import ModelError
from facespeech.stages.speech.ctc_decode import BeamSearchDecoder, GreedyCtcDecoder
from facespeech.stages.speech.recognizer import CtcModel, ModelConfig, save_bundle
from facespeech.stages.speech.spectrogram import LogMelFeatures
from facespeech.stages.speech.types import Emissions, Transcript, Word
from facespeech.stages.speech.vad import Segmenter

RATE = 16_000


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised recognizer small enough to run in milliseconds."""
    torch.manual_seed(0)
    model = CtcModel(ModelConfig(conv_channels=4, rnn_hidden=16, rnn_layers=1)).eval()
    path = tmp_path_factory.mktemp("model") / "tiny.pt"
    save_bundle(path, model, features=LogMelFeatures().config())
    return path


class MarkSegments:
    """Decoder stand-in: one word "seg" per segment, spanning the segment's emissions."""

    def __call__(self, emissions: Emissions) -> Transcript:
        start = emissions.offset_s
        end = start + len(emissions.log_probs) * emissions.frame_s
        return Transcript(emissions.source, "seg", (Word("seg", start, end, 1.0),), start, end)


def bursts(seconds: list[tuple[str, float]]) -> np.ndarray:
    """Concatenated 440 Hz tone ("tone") and digital silence ("gap") stretches."""
    parts = []
    for kind, length in seconds:
        t = np.arange(round(length * RATE)) / RATE
        parts.append(0.3 * np.sin(2 * np.pi * 440 * t) if kind == "tone" else 0 * t)
    return np.concatenate(parts).astype(np.float32)


def write(path: Path, samples: np.ndarray, rate: int = RATE, subtype: str = "PCM_16") -> Path:
    sf.write(path, samples, rate, subtype=subtype)
    return path


@pytest.fixture
def bad_files(tmp_path: Path) -> dict[str, Path]:
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    text = tmp_path / "notes.wav"
    text.write_text("this is not audio\n")
    corrupt = tmp_path / "corrupt.flac"
    corrupt.write_bytes(b"fLaC" + bytes(range(256)) * 4)
    nan = bursts([("tone", 1.0)])
    nan[100:200] = np.nan
    return {
        "empty": empty,
        "text": text,
        "corrupt": corrupt,
        "nan": write(tmp_path / "nan.wav", nan, subtype="FLOAT"),
        "missing": tmp_path / "missing.wav",
    }


def test_segments_merge_back_per_file_with_file_times(tmp_path: Path, tiny_model: Path) -> None:
    long = write(
        tmp_path / "long.wav",
        bursts([("gap", 1), ("tone", 3), ("gap", 1), ("tone", 3), ("gap", 1), ("tone", 2)]),
    )
    short = write(tmp_path / "short.wav", bursts([("gap", 0.3), ("tone", 1.5)]))
    results = list(
        transcribe(
            [long, short, long],
            model_path=tiny_model,
            decoder=MarkSegments(),
            segmenter=Segmenter(max_segment_s=5.0, pad_s=0.2),
            batch_size=2,  # segments of one file span batches
        )
    )
    assert [r.source for r in results] == [long, short, long]
    first = results[0].value
    assert isinstance(first, FileTranscript)
    assert first.text == "seg seg seg"
    assert first.duration_s == pytest.approx(11.0)
    starts = [s.start_s for s in first.segments]
    assert starts == pytest.approx([0.8, 4.8, 8.8], abs=0.021)
    for segment in first.segments:  # word times stay inside their segment
        (word,) = segment.words
        assert segment.start_s <= word.start_s < word.end_s <= segment.end_s
    assert results[2].value == first
    assert results[1].value is not None
    assert results[1].value.text == "seg"


def test_bad_files_fail_alone(tmp_path: Path, tiny_model: Path, bad_files: dict[str, Path]) -> None:
    good = write(tmp_path / "good.wav", bursts([("gap", 0.5), ("tone", 1.0)]))
    paths = [good, *bad_files.values(), good]
    results = list(transcribe(paths, model_path=tiny_model, decoder=GreedyCtcDecoder()))
    assert [r.source for r in results] == paths
    assert results[0].ok
    assert results[-1].ok
    for result, path in zip(results[1:-1], bad_files.values(), strict=True):
        assert result.error is not None, path
        assert str(result.error).startswith(f"{path}: ")
    assert "NaN" in str(results[1 + list(bad_files).index("nan")].error)


def test_silence_gives_empty_text(tmp_path: Path, tiny_model: Path) -> None:
    quiet = write(tmp_path / "quiet.wav", np.zeros(RATE * 3, np.float32))
    (result,) = transcribe([quiet], model_path=tiny_model, decoder=BeamSearchDecoder())
    assert result.value is not None
    assert (result.value.text, result.value.segments) == ("", ())
    assert result.value.duration_s == pytest.approx(3.0)


def test_resampled_stereo_input_keeps_times(tmp_path: Path, tiny_model: Path) -> None:
    mono = bursts([("gap", 2.0), ("tone", 1.0), ("gap", 1.0)])
    resampled = soxr.resample(mono, RATE, 44_100)
    path = tmp_path / "stereo44k.wav"
    sf.write(path, np.stack([resampled, 0.5 * resampled], axis=1), 44_100)
    (result,) = transcribe(
        [path],
        model_path=tiny_model,
        decoder=MarkSegments(),
        segmenter=Segmenter(pad_s=0.0),
    )
    assert result.value is not None
    (segment,) = result.value.segments
    assert segment.start_s == pytest.approx(2.0, abs=0.03)


def test_missing_model_is_a_setup_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no such model"):
        next(transcribe([tmp_path / "a.wav"], model_path=tmp_path / "nope.pt"))


def test_make_decoder_choices(tmp_path: Path) -> None:
    assert isinstance(make_decoder(beam_width=0), GreedyCtcDecoder)
    beam = make_decoder(beam_width=4, vocabulary=["yes", "no"])
    assert isinstance(beam, BeamSearchDecoder)
    assert beam.beam_width == 4
    with pytest.raises(ValueError, match="beam search"):
        make_decoder(beam_width=1, vocabulary=["yes"])
    with pytest.raises(ModelError, match="cannot read"):
        make_decoder(beam_width=4, lm_path=tmp_path / "missing.arpa")


@dataclass(frozen=True)
class Row:
    path: Path
    transcript: str


def test_evaluate_scores_every_row(tmp_path: Path, tiny_model: Path) -> None:
    one = write(tmp_path / "one.wav", bursts([("gap", 0.5), ("tone", 1.0)]))
    two = write(tmp_path / "two.wav", bursts([("tone", 1.0), ("gap", 1.0), ("tone", 1.0)]))
    rows = [Row(one, "Seg!"), Row(two, "seg seg"), Row(tmp_path / "gone.wav", "seg")]
    report = evaluate(
        rows,
        model_path=tiny_model,
        decoder=MarkSegments(),
    )
    assert [f.path for f in report.files] == [one, two, tmp_path / "gone.wav"]
    assert [f.reference for f in report.files] == ["seg", "seg seg", "seg"]
    assert [f.wer for f in report.files] == [0.0, 0.0, None]  # a 1 s pause ends a segment
    assert report.n_failed == 1
    assert report.files[2].error is not None
    assert report.wer == pytest.approx(1 / 4)  # all of "gone"
    assert report.audio_s == pytest.approx(4.5)
    assert report.real_time_factor > 0
