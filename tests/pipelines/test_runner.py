from __future__ import annotations

import os
from pathlib import Path

import pytest
from facespeech.pipelines.runner import Runner
from facespeech.stages.errors import InputError

from tests.pipelines.stages_for_tests import AddPid, BatchDouble, Crashes, FakeTorch, Square


def test_results_in_order_with_errors_in_place() -> None:
    runner = Runner([("square", Square())], batch_size=3)
    results = list(runner.run([1, -2, 3, 4]))
    assert [r.value for r in results] == [1, None, 9, 16]
    assert [r.ok for r in results] == [True, False, True, True]
    assert str(results[1].error) == "item-2: negative"
    assert results[1].source == Path("item-2")


def test_unexpected_exception_becomes_an_error_result() -> None:
    results = list(Runner([("crash", Crashes())]).run([1, 3, 5]))
    assert [r.value for r in results] == [1, None, 5]
    assert "RuntimeError: boom" in str(results[1].error)


def test_batch_used_and_a_failing_batch_retried_item_by_item() -> None:
    stage = BatchDouble()
    results = list(Runner([("double", stage)], batch_size=4).run([1, 2, 13, 4, 5]))
    assert [r.value for r in results] == [2, 4, None, 8, 10]
    assert stage.batch_sizes[0] == 4  # first batch tried whole, then one by one
    assert str(results[2].error) == "thirteen: unlucky"


def test_input_that_already_failed_passes_through() -> None:
    bad = InputError(Path("broken.mp4"), "cannot open video")
    results = list(Runner([("square", Square())]).run([2, bad, 3]))
    assert [r.value for r in results] == [4, None, 9]
    assert results[1].error is bad


def test_reads_input_lazily() -> None:
    consumed = []

    def numbers():  # type: ignore[no-untyped-def]
        for i in range(1000):
            consumed.append(i)
            yield i

    results = Runner([("square", Square())], batch_size=4).run(numbers())
    first = next(iter(results))
    assert first.value == 0
    assert len(consumed) <= 4


def test_workers_run_cpu_stages_in_other_processes_in_order() -> None:
    runner = Runner([("square", Square()), ("pid", AddPid())], jobs=2, profile=True)
    results = list(runner.run([3, -1, *range(10)]))
    assert results[1].error is not None
    values = [r.value for r in results if r.ok]
    assert [v[0] for v in values] == [9] + [i * i for i in range(10)]
    assert all(pid != os.getpid() for _, pid in values)
    assert runner.profile is not None
    assert runner.profile.stages["square"].count == 12


def test_torch_stage_moved_once_and_kept_in_main_process() -> None:
    torch_stage = FakeTorch()
    runner = Runner([("square", Square()), ("model", torch_stage)], jobs=2, device="cuda:0")
    assert torch_stage.device == "cuda:0"
    assert runner._cpu_stages == [runner.stages[0]]


def test_profile_counts_every_stage() -> None:
    runner = Runner([("square", Square()), ("double", BatchDouble())], profile=True)
    list(runner.run(range(5)))
    assert runner.profile is not None
    assert {name: t.count for name, t in runner.profile.stages.items()} == {
        "square": 5,
        "double": 5,
    }


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"stages": []}, "at least one stage"),
        ({"stages": [("a", Square()), ("a", Square())]}, "unique"),
        ({"stages": [("a", 42)]}, "not callable"),
        ({"stages": [("a", Square())], "jobs": 0}, "jobs"),
        ({"stages": [("a", Square())], "device": "tpu"}, "device"),
    ],
)
def test_bad_settings_raise(kwargs: dict, message: str) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        Runner(**kwargs)
