"""read_manifest: columns, split selection, fsdd's dev rows, errors naming the manifest."""

from __future__ import annotations

from pathlib import Path

import pytest
from facespeech.pipelines.manifest import parse_spec, read_manifest
from facespeech.stages.errors import InputError

HEADER = "path\ttranscript\tspeaker\tsplit\tduration\n"


def write(path: Path, rows: list[str], header: str = HEADER) -> Path:
    path.write_text(header + "".join(row + "\n" for row in rows))
    return path


def test_rows_resolve_relative_to_manifest(tmp_path: Path) -> None:
    manifest = write(tmp_path / "m.tsv", ["a/x.flac\tHELLO\tspk\ttest\t1.250"])
    (row,) = read_manifest(manifest)
    assert row.path == (tmp_path / "a" / "x.flac").resolve()
    assert (row.transcript, row.speaker, row.split, row.duration_s) == (
        "HELLO",
        "spk",
        "test",
        1.25,
    )


def test_split_suffix_selects_rows(tmp_path: Path) -> None:
    manifest = write(
        tmp_path / "m.tsv",
        ["a.flac\ta\ts\ttrain\t1", "b.flac\tb\ts\tdev\t1", "c.flac\tc\ts\ttest\t1"],
    )
    assert [r.transcript for r in read_manifest(f"{manifest}:dev")] == ["b"]
    assert [r.transcript for r in read_manifest(f"{manifest}:test")] == ["c"]
    assert len(read_manifest(manifest)) == 3
    assert parse_spec(f"{manifest}:train") == (manifest, "train")


def test_fsdd_dev_is_train_indices_five_to_nine(tmp_path: Path) -> None:
    rows = [
        f"audio/train/g/{d}_george_{i}.opus\tw\tgeorge\ttrain\t0.5"
        for d in (0, 1)
        for i in range(5, 15)
    ]
    rows += [
        f"audio/test/g/{d}_george_{i}.flac\tw\tgeorge\ttest\t0.5" for d in (0, 1) for i in range(5)
    ]
    manifest = write(tmp_path / "fsdd.tsv", rows)
    dev = read_manifest(f"{manifest}:dev")
    train = read_manifest(f"{manifest}:train")
    assert sorted(int(r.path.stem.split("_")[2]) for r in dev) == sorted([5, 6, 7, 8, 9] * 2)
    assert {r.split for r in dev} == {"dev"}
    assert all(int(r.path.stem.split("_")[2]) >= 10 for r in train)
    assert len(train) + len(dev) == 20
    assert len(read_manifest(f"{manifest}:test")) == 10


def test_optional_columns_may_be_missing(tmp_path: Path) -> None:
    manifest = write(tmp_path / "m.tsv", ["x.wav\thi there"], header="path\ttranscript\n")
    (row,) = read_manifest(manifest)
    assert (row.speaker, row.split, row.duration_s) == ("", "", None)
    with pytest.raises(InputError, match="no split column"):
        read_manifest(f"{manifest}:dev")


def test_missing_column_names_the_manifest(tmp_path: Path) -> None:
    manifest = write(tmp_path / "m.tsv", ["x.wav\tspk"], header="path\tspeaker\n")
    with pytest.raises(InputError, match="transcript") as info:
        read_manifest(manifest)
    assert info.value.path == manifest


def test_missing_manifest(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such manifest") as info:
        read_manifest(f"{tmp_path / 'absent.tsv'}:train")
    assert info.value.path == tmp_path / "absent.tsv"


def test_bad_duration_names_the_line(tmp_path: Path) -> None:
    manifest = write(tmp_path / "m.tsv", ["x.wav\thi\ts\ttrain\tlong"])
    with pytest.raises(InputError, match="line 2"):
        read_manifest(manifest)


def test_shared_fsdd_splits(speech_data: Path) -> None:
    manifest = speech_data / "fsdd" / "manifest.tsv"
    assert len(read_manifest(f"{manifest}:dev")) == 250
    assert len(read_manifest(f"{manifest}:train")) == 2000
    assert len(read_manifest(f"{manifest}:test")) == 250
