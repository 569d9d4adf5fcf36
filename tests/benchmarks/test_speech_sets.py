"""``benchmarks/speech.py``'s sets: splits joined with '+', rows kept by their words."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import REPO_ROOT


def _load_script() -> ModuleType:
    """The script as a module; ``benchmarks/`` on the path for its sibling modules."""
    sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
    try:
        path = REPO_ROOT / "benchmarks" / "speech.py"
        spec = importlib.util.spec_from_file_location("speech_benchmark", path)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(REPO_ROOT / "benchmarks"))


def _manifest(tmp_path: Path) -> Path:
    rows = [
        ("a.flac", "SEVEN NINE FOUR SIX", "dev"),
        ("b.flac", "WE CALL IT BEAR", "dev"),
        ("c.flac", "TWO ONE", "test"),
        ("d.flac", "ONE TWO", "train"),
        ("e.flac", "", "test"),
    ]
    path = tmp_path / "manifest.tsv"
    lines = ["path\ttranscript\tspeaker\tsplit\tduration"]
    lines += [f"{p}\t{t}\ts1\t{split}\t1.0" for p, t, split in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_digit_strings_of_dev_and_test(tmp_path: Path) -> None:
    bench = _load_script()
    digits_set = next(s for s in bench.EVAL_SETS if s.name == "speechocean762-digits")
    utterances = bench.load_set(_manifest(tmp_path), digits_set, None)
    # dev and test rows made only of digit words; not the sentence, the train row or empty text
    assert [u.path.name for u in utterances] == ["a.flac", "c.flac"]
    assert [u.reference for u in utterances] == ["seven nine four six", "two one"]


def test_plain_set_keeps_every_row_of_its_split(tmp_path: Path) -> None:
    bench = _load_script()
    plain = bench.EvalSet("x", "speechocean762", "dev")
    utterances = bench.load_set(_manifest(tmp_path), plain, None)
    assert [u.path.name for u in utterances] == ["a.flac", "b.flac"]


def test_control_set_reads_the_held_out_sentences_with_training_voices(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bench = _load_script()
    calls = []

    def fake_build(out_dir: Path, *, speech_data: Path, voices: tuple[str, ...]) -> Path:
        calls.append((out_dir, speech_data, voices))
        return out_dir / "manifest.tsv"

    monkeypatch.setattr(bench.tts_heldout, "build", fake_build)
    control = next(s for s in bench.EVAL_SETS if s.name == "tts-heldout-text")
    args = bench.parse(["--data", str(tmp_path), "--tts-control-cache", str(tmp_path / "c")])

    assert bench.set_manifest(control, args) == tmp_path / "c" / "manifest.tsv"
    assert calls == [(tmp_path / "c", tmp_path, ("awb", "kal16"))]
    assert not {"rms", "slt"} & set(calls[0][2])  # not the unseen voices


def test_condition_sets_read_16_bit_copies_of_speechocean762_dev(tmp_path: Path) -> None:
    import numpy as np
    import soundfile as sf

    bench = _load_script()
    conditions = {s.name: s.condition for s in bench.EVAL_SETS if s.condition is not None}
    assert conditions == {
        "speechocean762-dev-quiet": bench.QUIET,
        "speechocean762-dev-hum": bench.HUM,
        "speechocean762-dev-phone": bench.PHONE,
    }
    assert {(s.corpus, s.split) for s in bench.EVAL_SETS if s.condition} == {
        ("speechocean762", "dev")
    }
    source = tmp_path / "speaker" / "clip.flac"
    source.parent.mkdir()
    sf.write(source, np.full(1600, 0.5, np.float32), 16_000)
    quiet = bench.Condition("q", "twenty down", gain_db=-20.0)
    [utterance] = bench.conditioned(
        [bench.Utterance(source, "we call it bear", 0.1)], quiet, tmp_path / "cache"
    )
    assert utterance.reference == "we call it bear"
    assert utterance.path != source
    samples, rate = sf.read(utterance.path, dtype="float32")
    assert sf.info(utterance.path).subtype == "PCM_16"
    assert rate == 16_000
    assert np.allclose(samples, 0.05, atol=1e-4)  # 0.5, 20 dB down
    again = bench.conditioned([bench.Utterance(source, "x", 0.1)], quiet, tmp_path / "cache")
    assert again[0].path == utterance.path  # made once, found after


def test_the_hum_set_adds_50_hz_and_harmonics_as_loud_as_the_clip(tmp_path: Path) -> None:
    import numpy as np
    import soundfile as sf

    bench = _load_script()
    source = tmp_path / "speaker" / "tone.wav"
    source.parent.mkdir()
    t = np.arange(16_000) / 16_000
    voice = 0.1 * np.sin(2 * np.pi * 1000 * t)
    sf.write(source, voice, 16_000, subtype="FLOAT")
    [utterance] = bench.conditioned(
        [bench.Utterance(source, "x", 1.0)], bench.HUM, tmp_path / "cache"
    )
    samples, _ = sf.read(utterance.path, dtype="float64")
    spectrum = np.abs(np.fft.rfft(samples)) / len(samples) * 2  # amplitude per 1 Hz bin
    assert spectrum[1000] == pytest.approx(0.1, abs=1e-3)
    hum = spectrum[[50, 100, 150]]
    assert hum / hum[0] == pytest.approx([1.0, 0.5, 0.25], abs=1e-3)
    # Together as loud as the clip: the RMS of the hum's sines equals the voice's.
    assert np.sqrt((hum**2 / 2).sum()) == pytest.approx(np.sqrt(np.mean(voice**2)), rel=1e-3)


def test_the_phone_set_keeps_the_telephone_band_at_8_khz_in_mu_law(tmp_path: Path) -> None:
    import numpy as np
    import soundfile as sf

    bench = _load_script()
    source = tmp_path / "speaker" / "tones.wav"
    source.parent.mkdir()
    t = np.arange(32_000) / 16_000
    tones = {100: 0.1, 1000: 0.1, 5000: 0.1}  # below, inside and above the phone band
    sf.write(source, sum(a * np.sin(2 * np.pi * f * t) for f, a in tones.items()), 16_000)
    [utterance] = bench.conditioned(
        [bench.Utterance(source, "x", 2.0)], bench.PHONE, tmp_path / "cache"
    )
    info = sf.info(utterance.path)
    assert (info.samplerate, info.subtype) == (8_000, "ULAW")
    samples, _ = sf.read(utterance.path, dtype="float64")
    steady = samples[4_000:12_000]  # 1 s, past the filter's start
    spectrum = np.abs(np.fft.rfft(steady)) / len(steady) * 2  # amplitude per 1 Hz bin
    assert spectrum[1000] == pytest.approx(0.1, rel=0.05)
    assert spectrum[100] < 0.01  # 20 dB down; 5 kHz is above the 4 kHz Nyquist limit
