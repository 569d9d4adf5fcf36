"""``benchmarks/posterior_average.py``: frame posteriors of several recognizers averaged."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
from facespeech.stages.speech.alphabet import LABELS
from facespeech.stages.speech.types import Emissions

from tests.conftest import REPO_ROOT


def _load_script() -> ModuleType:
    """The script as a module; ``benchmarks/`` on the path for the ``tune_decoder`` it imports."""
    sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
    try:
        path = REPO_ROOT / "benchmarks" / "posterior_average.py"
        spec = importlib.util.spec_from_file_location("posterior_average", path)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(REPO_ROOT / "benchmarks"))


def _emissions(probs: np.ndarray, offset_s: float = 0.0) -> Emissions:
    return Emissions(Path("a.wav"), np.log(probs).astype(np.float32), 0.04, offset_s)


def test_averaged_is_the_mean_of_the_frame_probabilities() -> None:
    script = _load_script()
    rng = np.random.default_rng(0)
    a = rng.dirichlet(np.ones(len(LABELS)), size=7)
    b = rng.dirichlet(np.ones(len(LABELS)), size=7)
    [[merged]] = script.averaged([[[_emissions(a, 1.5)]], [[_emissions(b, 1.5)]]])
    np.testing.assert_allclose(np.exp(merged.log_probs), (a + b) / 2, rtol=1e-5)
    np.testing.assert_allclose(np.exp(merged.log_probs).sum(axis=1), 1.0, rtol=1e-5)
    assert merged.offset_s == 1.5
    assert merged.frame_s == 0.04


def test_one_model_is_left_as_it_is() -> None:
    script = _load_script()
    probs = np.random.default_rng(1).dirichlet(np.ones(len(LABELS)), size=5)
    [[alone]] = script.averaged([[[_emissions(probs)]]])
    np.testing.assert_allclose(alone.log_probs, np.log(probs), rtol=1e-5, atol=1e-6)
