"""``benchmarks/tts_heldout.py``: issue 10's held-out TTS voices test set (flite rms and slt)."""

from __future__ import annotations

import csv
import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import soundfile as sf
from facespeech.pipelines.manifest import read_manifest

from tests.conftest import REPO_ROOT, shared_path


def _load_script() -> ModuleType:
    """The script as a module (``benchmarks/`` is a folder of scripts, not a package)."""
    path = REPO_ROOT / "benchmarks" / "tts_heldout.py"
    spec = importlib.util.spec_from_file_location("tts_heldout", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


tts_heldout = _load_script()


@pytest.fixture
def flite() -> None:
    if shutil.which("flite") is None:
        pytest.skip("flite is not installed (apt-get install flite)")


@pytest.mark.usefixtures("flite")
def test_render_writes_rms_and_slt_clips_and_a_test_manifest(tmp_path: Path) -> None:
    lines = [
        tts_heldout.Line(156_807, "the cat sat on the mat"),
        tts_heldout.Line(156_808, "seven green apples"),
    ]

    manifest = tts_heldout.render(lines, tmp_path)

    with manifest.open(newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    assert [(r["path"], r["transcript"], r["speaker"], r["split"]) for r in rows] == [
        ("audio/156807.wav", "the cat sat on the mat", "flite:rms", "test"),
        ("audio/156808.wav", "seven green apples", "flite:slt", "test"),
    ]
    for row in rows:
        samples, rate = sf.read(tmp_path / row["path"], dtype="float32")
        info = sf.info(tmp_path / row["path"])
        assert (rate, info.channels, info.subtype) == (16_000, 1, "PCM_16")
        assert samples.size / rate == pytest.approx(float(row["duration"]), abs=1e-3)
        assert 0.5 < samples.size / rate < 10.0
        assert np.sqrt(np.mean(samples**2)) > 0.01  # speech, not silence
    assert [r.split for r in read_manifest(f"{manifest}:test")] == ["test", "test"]


@pytest.mark.usefixtures("flite")
def test_render_keeps_an_up_to_date_set_and_redoes_a_different_one(tmp_path: Path) -> None:
    lines = [tts_heldout.Line(1, "one two three"), tts_heldout.Line(2, "four five six")]
    manifest = tts_heldout.render(lines, tmp_path)
    stamp = manifest.stat().st_mtime_ns

    assert tts_heldout.render(lines, tmp_path) == manifest
    assert manifest.stat().st_mtime_ns == stamp

    other = [lines[0], tts_heldout.Line(2, "seven eight nine")]
    tts_heldout.render(other, tmp_path)
    assert "seven eight nine" in manifest.read_text()


@pytest.mark.usefixtures("flite")
def test_render_with_other_voices_gives_them_turns(tmp_path: Path) -> None:
    lines = [tts_heldout.Line(n, text) for n, text in ((1, "one"), (2, "two"), (3, "three"))]

    manifest = tts_heldout.render(lines, tmp_path, voices=("awb", "kal16"))

    assert [r.speaker for r in read_manifest(f"{manifest}:test")] == [
        "flite:awb",
        "flite:kal16",
        "flite:awb",
    ]


def test_build_without_flite_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tts_heldout.shutil, "which", lambda _name: None)
    with pytest.raises(tts_heldout.HeldOutUnavailable, match="flite is not installed"):
        tts_heldout.build(tmp_path)
    assert not (tmp_path / "manifest.tsv").exists()


def test_sentence_list_gives_the_documented_last_200_lines() -> None:
    speech = shared_path("speech")
    if not (tts_heldout.DEFAULT_WORDNET / "data.noun").is_file():
        pytest.skip("WordNet is not installed (apt-get install wordnet-base)")

    lines = tts_heldout.held_out_lines(tts_heldout.sentence_list(speech))

    tts_heldout.check_lines(lines)  # the line numbers and the SHA-256 of the text
    assert (lines[0].number, lines[-1].number) == (156_807, 157_006)


def test_digit_clips_cover_every_digit_voice_and_stretch() -> None:
    clips = tts_heldout.digit_clips()

    assert len(clips) == len({c.path for c in clips}) == 60
    assert {c.text for c in clips} == set(tts_heldout.DIGIT_WORDS)
    assert {(c.speaker, c.stretch) for c in clips} == {
        (f"flite:{v}", s) for v in ("rms", "slt") for s in (0.8, 1.0, 1.25)
    }
    assert {c.split for c in clips} == {"test"}


@pytest.mark.usefixtures("flite")
def test_render_clips_applies_the_duration_stretch(tmp_path: Path) -> None:
    clips = [
        tts_heldout.Clip(f"audio/{s}.wav", "seven", "flite:slt", "test", s) for s in (0.8, 1.25)
    ]

    manifest = tts_heldout.render_clips(clips, tmp_path)

    rows = read_manifest(f"{manifest}:test")
    assert [r.transcript for r in rows] == ["seven", "seven"]
    fast, slow = (r.duration_s or 0.0 for r in rows)
    assert 0.2 < fast < slow  # 1.25 is slower speech, so longer
