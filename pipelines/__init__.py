"""Pipelines: the ``Runner`` that chains stages, and the end-to-end jobs built on it."""

from facespeech.pipelines.runner import Profile, Result, Runner, StageTime

__all__ = ["Profile", "Result", "Runner", "StageTime"]
