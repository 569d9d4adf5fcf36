"""Average the weights of recognizer bundles of one architecture (Wortsman et al. 2022,
"Robust fine-tuning of zero-shot models": interpolating a fine-tuned model with the model it
started from often keeps what each was good at).

    python -m facespeech.pipelines.speech_average base.pt tuned.pt --weights 0.5,0.5 --out avg.pt

The front end and labels of the first bundle are kept; every bundle must share the architecture.
Dropout is not architecture (it only acts in training): bundles trained with other dropout
rates average, and the result keeps the first bundle's.
The result is stored in float16, as shipped models are, with the sources in its metadata.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Sequence
from pathlib import Path

import torch
from facespeech.stages.speech.recognizer import load_bundle, save_bundle


def average_bundles(paths: Sequence[Path], weights: Sequence[float], out: Path) -> None:
    """Write ``sum(w_i * model_i) / sum(w_i)`` to ``out``. Raises ``ValueError`` when the
    architectures or front ends differ, or the weights do not fit."""
    if len(paths) != len(weights) or not paths:
        raise ValueError(f"need one weight per model: {len(paths)} models, {len(weights)} weights")
    if min(weights) < 0 or sum(weights) <= 0:
        raise ValueError(f"weights must be >= 0 with a positive sum, got {list(weights)}")
    bundles = [load_bundle(path) for path in paths]
    first = bundles[0]
    for path, bundle in zip(paths[1:], bundles[1:], strict=True):
        architecture = dataclasses.replace(bundle.model.config, dropout=first.model.config.dropout)
        if architecture != first.model.config or bundle.features != first.features:
            raise ValueError(f"{path}: another architecture or front end than {paths[0]}")
    total = float(sum(weights))
    states = [bundle.model.state_dict() for bundle in bundles]
    averaged = {
        name: sum(w * state[name].float() for w, state in zip(weights, states, strict=True)) / total
        for name in states[0]
    }
    first.model.load_state_dict(averaged)
    metadata = dict(first.metadata)
    metadata["averaged_from"] = [
        {"path": path.name, "weight": w} for path, w in zip(paths, weights, strict=True)
    ]
    save_bundle(out, first.model, features=first.features, metadata=metadata, dtype=torch.float16)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", type=Path)
    parser.add_argument("--weights", help="comma-separated, one per model (default: equal)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    weights = (
        [float(w) for w in args.weights.split(",")] if args.weights else [1.0] * len(args.models)
    )
    average_bundles(args.models, weights, args.out)
    print(args.out)


if __name__ == "__main__":
    main()
