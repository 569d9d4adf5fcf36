from pathlib import Path

from facespeech.pipelines.paths import walk_files
from facespeech.stages.errors import InputError


def _is_txt(path: Path) -> bool:
    return path.suffix == ".txt"


def test_named_files_kept_folders_walked_sorted(tmp_path: Path) -> None:
    (tmp_path / "d" / "inner").mkdir(parents=True)
    for name in ("d/b.txt", "d/a.txt", "d/inner/c.txt", "d/skip.bin", "named.bin"):
        (tmp_path / name).write_text("x")
    items = list(walk_files([tmp_path / "named.bin", tmp_path / "d"], _is_txt))
    assert items == [
        tmp_path / "named.bin",  # named explicitly: kept whatever its suffix
        tmp_path / "d" / "a.txt",
        tmp_path / "d" / "b.txt",
        tmp_path / "d" / "inner" / "c.txt",
    ]


def test_folder_with_nothing_to_keep_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "only.bin").write_text("x")
    [item] = list(walk_files([tmp_path], _is_txt))
    assert isinstance(item, InputError)
    assert item.path == tmp_path
    assert "no file of a kind" in item.reason


def test_missing_paths_pass_through_for_the_loader_to_report(tmp_path: Path) -> None:
    assert list(walk_files([tmp_path / "gone.txt"], _is_txt)) == [tmp_path / "gone.txt"]
