"""The stage contract shared by face and speech stages (STYLE.md section 2).

A stage is a small object with settings in ``__init__`` and one call method. The runner
(``facespeech.pipelines.Runner``) chains stages; it uses ``batch`` when a stage has it and
moves a ``TorchStage`` to the run's device once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar, runtime_checkable

In_contra = TypeVar("In_contra", contravariant=True)
Out_co = TypeVar("Out_co", covariant=True)


@runtime_checkable
class Stage(Protocol[In_contra, Out_co]):
    """One step: ``stage(item) -> result``; pure, no state changed by the call."""

    def __call__(self, item: In_contra, /) -> Out_co: ...


@runtime_checkable
class BatchStage(Stage[In_contra, Out_co], Protocol[In_contra, Out_co]):
    """A stage faster on many items at once: ``batch(items) == [stage(i) for i in items]``."""

    def batch(self, items: Sequence[In_contra], /) -> Sequence[Out_co]: ...


@runtime_checkable
class TorchStage(Stage[In_contra, Out_co], Protocol[In_contra, Out_co]):
    """A stage holding a torch module: the runner calls ``to(device)`` once before the run and
    keeps it in the main process (CUDA state does not cross process boundaries)."""

    def to(self, device: str) -> None: ...
