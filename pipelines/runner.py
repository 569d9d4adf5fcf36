"""The pipeline runner: chains named stages, streams items in order, in batches.

CPU stages (every stage before the first ``TorchStage``) run in ``jobs`` worker processes
when ``jobs > 1``; torch stages and whatever follows them run in the main process, on
``device``, batched. A failing item becomes an error ``Result``; the run goes on.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Generic, TypeVar

from facespeech.stages.contract import BatchStage, Stage, TorchStage
from facespeech.stages.errors import InputError, PipelineError

log = logging.getLogger(__name__)

T = TypeVar("T")
NamedStage = tuple[str, Stage[Any, Any]]

# Items in flight per worker: enough to keep every process busy, few enough that memory
# stays flat however many inputs stream in.
IN_FLIGHT_PER_JOB = 4


@dataclass(frozen=True, slots=True)
class Result(Generic[T]):
    """The outcome for one input item: ``value`` or ``error``, never both."""

    source: Path
    value: T | None = None
    error: PipelineError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(slots=True)
class StageTime:
    total_s: float = 0.0
    count: int = 0


@dataclass(slots=True)
class Profile:
    """Per-stage ``perf_counter`` totals (seconds, summed over workers) and item counts."""

    stages: dict[str, StageTime] = field(default_factory=dict)

    def add(self, name: str, seconds: float, count: int = 1) -> None:
        entry = self.stages.setdefault(name, StageTime())
        entry.total_s += seconds
        entry.count += count

    def merge(self, other: Profile) -> None:
        for name, entry in other.stages.items():
            self.add(name, entry.total_s, entry.count)


def source_of(item: object) -> Path:
    """The file an item came from: the item itself if it is a path, else its ``source``."""
    if isinstance(item, (str, Path)):
        return Path(item)
    source = getattr(item, "source", None)
    return Path(source) if source is not None else Path("<unknown>")


def _as_error(item: object, exc: BaseException) -> PipelineError:
    if isinstance(exc, PipelineError):
        return exc
    # A library we call (dlib, OpenCV, libsndfile) may raise anything on odd input; the
    # batch must go on, so the fault is reported against the file, with its type for triage.
    log.debug("unexpected error on %s", source_of(item), exc_info=exc)
    return InputError(source_of(item), f"{type(exc).__name__}: {exc}")


def _run_chain(
    stages: Sequence[NamedStage], item: object, profile: Profile
) -> tuple[object, PipelineError | None]:
    """Run one item through ``stages``; stop at the first error."""
    value = item
    for name, stage in stages:
        start = time.perf_counter()
        try:
            value = stage(value)
        except Exception as exc:
            return None, _as_error(item, exc)
        finally:
            profile.add(name, time.perf_counter() - start)
    return value, None


def _run_batch(
    stages: Sequence[NamedStage], items: list[object], profile: Profile
) -> list[tuple[object, PipelineError | None]]:
    """Run a batch through ``stages`` using each stage's ``batch`` where it has one.

    If a batch call fails, the items are retried one by one so only the bad one fails.
    """
    outcomes: list[tuple[object, PipelineError | None]] = [(item, None) for item in items]
    for name, stage in stages:
        live = [i for i, (_, err) in enumerate(outcomes) if err is None]
        if not live:
            break
        inputs = [outcomes[i][0] for i in live]
        start = time.perf_counter()
        outputs: list[object] | None = None
        if isinstance(stage, BatchStage) and len(inputs) > 1:
            try:
                outputs = list(stage.batch(inputs))
            except Exception as exc:
                log.debug("batch of %s failed (%s); retrying one by one", name, exc)
        for pos, i in enumerate(live):
            if outputs is not None:
                outcomes[i] = (outputs[pos], None)
                continue
            try:
                outcomes[i] = (stage(inputs[pos]), None)
            except Exception as exc:
                outcomes[i] = (None, _as_error(items[i], exc))
        profile.add(name, time.perf_counter() - start, len(inputs))
    return outcomes


# Worker-process state: the CPU stages, unpickled once per worker by the initializer.
_worker_stages: Sequence[NamedStage] = ()


def _init_worker(stages: Sequence[NamedStage], log_level: int) -> None:
    global _worker_stages
    _worker_stages = stages
    logging.getLogger("facespeech").setLevel(log_level)


def _work(item: object) -> tuple[object, PipelineError | None, Profile]:
    profile = Profile()
    value, error = _run_chain(_worker_stages, item, profile)
    return value, error, profile


_Pending = Future[tuple[object, PipelineError | None, Profile]]


def _pre_failed(item: object) -> tuple[object, PipelineError | None]:
    """An input source may yield a ``PipelineError`` for an input it could not even read
    (a corrupt video); it passes through as that item's error."""
    if isinstance(item, PipelineError):
        return None, item
    return item, None


class Runner:
    """Chains named stages and streams items through them.

    Args:
        stages: ``(name, stage)`` pairs, run in order; names must be unique.
        batch_size: items per batch in the main process (torch stages see batches this big).
        jobs: worker processes for the CPU stages; 1 runs everything in this process.
        device: ``"cpu"`` or ``"cuda"`` (or ``"cuda:N"``) for torch stages.
        profile: collect per-stage timings into ``self.profile``.
    """

    def __init__(
        self,
        stages: Sequence[NamedStage],
        *,
        batch_size: int = 16,
        jobs: int = 1,
        device: str = "cpu",
        profile: bool = False,
    ) -> None:
        if not stages:
            raise ValueError("a runner needs at least one stage")
        names = [name for name, _ in stages]
        if len(set(names)) != len(names):
            raise ValueError(f"stage names must be unique, got {names}")
        for name, stage in stages:
            if not callable(stage):
                raise TypeError(f"stage {name!r} is not callable: {type(stage).__name__}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if jobs < 1:
            raise ValueError(f"jobs must be >= 1, got {jobs}")
        if not (device == "cpu" or device.startswith("cuda")):
            raise ValueError(f"device must be 'cpu' or 'cuda[:N]', got {device!r}")
        self.stages = list(stages)
        self.batch_size = batch_size
        self.jobs = jobs
        self.device = device
        self.profile = Profile() if profile else None
        first_torch = next(
            (i for i, (_, s) in enumerate(self.stages) if isinstance(s, TorchStage)),
            len(self.stages),
        )
        # The worker pool takes the CPU prefix; the rest stays here, on the device.
        self._cpu_stages = self.stages[:first_torch] if jobs > 1 else []
        self._main_stages = self.stages[len(self._cpu_stages) :]
        for _, stage in self.stages[first_torch:]:
            if isinstance(stage, TorchStage):
                stage.to(device)

    def run(self, items: Iterable[object]) -> Iterator[Result[Any]]:
        """Yield one ``Result`` per item, in input order, reading ``items`` lazily.

        An item that is a ``PipelineError`` (an input its source could not read) comes out
        as that error's result.
        """
        profile = Profile()
        try:
            if self._cpu_stages:
                staged = self._run_in_workers(items, profile)
            else:
                staged = (_pre_failed(item) for item in items)
            yield from self._run_main(staged, profile)
        finally:
            if self.profile is not None:
                self.profile.merge(profile)

    def _run_in_workers(
        self, items: Iterable[object], profile: Profile
    ) -> Iterator[tuple[object, PipelineError | None]]:
        """Yield ``(value_or_item, error)`` per item, in order, from the worker pool."""
        context = get_context("spawn")  # CUDA does not survive fork; see STYLE.md section 3
        level = logging.getLogger("facespeech").getEffectiveLevel()
        with ProcessPoolExecutor(
            max_workers=self.jobs,
            mp_context=context,
            initializer=_init_worker,
            initargs=(self._cpu_stages, level),
        ) as pool:
            pending: deque[tuple[object, _Pending | None]]
            pending = deque()
            limit = self.jobs * IN_FLIGHT_PER_JOB
            for item in items:
                failed = isinstance(item, PipelineError)
                pending.append((item, None if failed else pool.submit(_work, item)))
                if len(pending) >= limit:
                    yield self._collect(*pending.popleft(), profile)
            while pending:
                yield self._collect(*pending.popleft(), profile)

    @staticmethod
    def _collect(
        item: object,
        future: _Pending | None,
        profile: Profile,
    ) -> tuple[object, PipelineError | None]:
        if future is None:
            return _pre_failed(item)
        try:
            value, error, worker_profile = future.result()
        except Exception as exc:  # a worker died (out of memory, a crash in native code)
            return None, _as_error(item, exc)
        profile.merge(worker_profile)
        return (item if error else value), error

    def _run_main(
        self, staged: Iterable[tuple[object, PipelineError | None]], profile: Profile
    ) -> Iterator[Result[Any]]:
        batch: list[tuple[object, PipelineError | None]] = []
        for entry in staged:
            batch.append(entry)
            if len(batch) >= self.batch_size:
                yield from self._finish_batch(batch, profile)
                batch = []
        if batch:
            yield from self._finish_batch(batch, profile)

    def _finish_batch(
        self, batch: list[tuple[object, PipelineError | None]], profile: Profile
    ) -> Iterator[Result[Any]]:
        live = [value for value, error in batch if error is None]
        outcomes = iter(_run_batch(self._main_stages, live, profile) if live else [])
        for _, error in batch:
            if error is not None:
                yield Result(source=error.path, error=error)
                continue
            out, out_error = next(outcomes)
            if out_error is not None:
                yield Result(source=out_error.path, error=out_error)
            else:
                yield Result(source=source_of(out), value=out)
