"""Locating and loading dlib's model files (shipped by the face_recognition_models package).

Models load lazily, once per process, never at import. The package's folder is found with
``importlib.util.find_spec`` so its ``__init__`` (which imports ``pkg_resources``, gone from
new setuptools) never runs.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from pathlib import Path
from typing import Any

from facespeech.stages.errors import ModelError

MODELS_PACKAGE = "face_recognition_models"
# Lets a user point at a folder holding the same .dat files (e.g. on a machine where the
# wheel is not installed); read by the CLI's environment, documented in the README.
MODELS_DIR_ENV = "FACESPEECH_FACE_MODELS"

SHAPE_68 = "shape_predictor_68_face_landmarks.dat"
SHAPE_5 = "shape_predictor_5_face_landmarks.dat"
RESNET = "dlib_face_recognition_resnet_model_v1.dat"
MMOD = "mmod_human_face_detector.dat"


def models_dir() -> Path:
    """The folder holding dlib's ``.dat`` files."""
    override = os.environ.get(MODELS_DIR_ENV)
    if override:
        return Path(override)
    spec = importlib.util.find_spec(MODELS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            Path(MODELS_PACKAGE), "package not installed (pip install face_recognition_models)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def model_path(filename: str) -> Path:
    """Path of one model file; raises ``ModelError`` naming it when it is missing."""
    path = models_dir() / filename
    if not path.is_file():
        raise ModelError(path, "model file not found")
    return path


@functools.cache
def _load(kind: str, filename: str) -> Any:
    import dlib  # deferred: importing dlib costs ~0.3 s, paid only by processes that use it

    path = model_path(filename)
    factory = {
        "shape": dlib.shape_predictor,
        "resnet": dlib.face_recognition_model_v1,
        "mmod": dlib.cnn_face_detection_model_v1,
    }[kind]
    try:
        return factory(str(path))
    except RuntimeError as exc:
        raise ModelError(path, f"cannot load dlib model: {exc}") from exc


def shape_predictor(filename: str) -> Any:
    """dlib's ``shape_predictor`` from ``filename``, loaded once per process."""
    return _load("shape", filename)


def resnet_model() -> Any:
    """dlib's ``face_recognition_model_v1`` (the 128-d ResNet), loaded once per process."""
    return _load("resnet", RESNET)


def mmod_detector() -> Any:
    """dlib's CNN (MMOD) face detector, loaded once per process."""
    return _load("mmod", MMOD)


@functools.cache
def hog_detector() -> Any:
    """dlib's HOG + linear SVM frontal face detector, built once per process."""
    import dlib

    return dlib.get_frontal_face_detector()
