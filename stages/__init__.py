"""Stages: small classes, one step each, usable alone (``facespeech.stages.face``,
``facespeech.stages.speech``). Shared pieces: the stage contract and the error types."""
