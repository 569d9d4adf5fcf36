"""``speechpipe train``: train the CTC recognizer on manifests (flags map onto ``TrainConfig``)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from facespeech.cli.common import EXIT_USAGE

F = TypeVar("F", bound=Callable[..., Any])

SUBSAMPLING = {2: (2, 1), 3: (3, 1), 4: (2, 2)}  # total time stride -> per-convolution strides


def _speed_factors(text: str) -> tuple[float, ...]:
    try:
        factors = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError as exc:
        raise click.BadParameter(f"not a comma-separated list of numbers: {text!r}") from exc
    if any(f <= 0 for f in factors):
        raise click.BadParameter(f"speed factors must be positive: {text!r}")
    return factors


def _model_path(name: str | None) -> Path | None:
    """A model file named on the command line; 'default' is the shipped one."""
    if name is None:
        return None
    from facespeech.stages.speech.recognizer import default_model_path

    return default_model_path() if name == "default" else Path(name)


def _clip_share(flag: str, default: float, help_text: str) -> Callable[[F], F]:
    """A ``--*-prob`` option: the share of training clips given one augmentation, in [0, 1]."""
    return click.option(
        flag, type=click.FloatRange(0.0, 1.0), default=default, show_default=True, help=help_text
    )


@click.command()
@click.option(
    "--train",
    "train_specs",
    multiple=True,
    required=True,
    metavar="MANIFEST[:SPLIT]",
    help="Training rows (repeatable), e.g. data/manifest.tsv:train.",
)
@click.option(
    "--dev",
    "dev_specs",
    multiple=True,
    metavar="MANIFEST[:SPLIT]",
    help="Dev rows scored each epoch (repeatable); best.pt keeps the lowest mean WER.",
)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=str),
    help="Folder for last.pt, best.pt and train_log.jsonl.",
)
@click.option("--resume", is_flag=True, help="Continue from OUT/last.pt (mid-epoch too).")
@click.option(
    "--init",
    "init_from",
    type=click.Path(dir_okay=False, path_type=str),
    help="Start from this model's weights ('default': the shipped one), size flags ignored.",
)
@click.option(
    "--warm-start",
    "warm_start_from",
    type=click.Path(dir_okay=False, path_type=str),
    help="Start a model of the size flags from this one's weights ('default': the shipped one)"
    " wherever name and shape match, e.g. a deeper model keeps the convolutions and the first"
    " GRU layers; the rest start at random.",
)
@click.option("--epochs", type=click.IntRange(min=1), default=40, show_default=True)
@click.option(
    "--batch-seconds",
    type=click.FloatRange(min=1.0),
    default=320.0,
    show_default=True,
    help="Padded audio seconds per batch (per process).",
)
@click.option(
    "--lr",
    type=click.FloatRange(min=0.0, min_open=True),
    default=1.5e-3,
    show_default=True,
    help="Peak learning rate (AdamW; warm-up, then cosine).",
)
@click.option("--warmup-steps", type=click.IntRange(min=1), default=400, show_default=True)
@click.option(
    "--device",
    default="cpu",
    show_default=True,
    help="cpu, cuda or cuda:N (torchrun: each process takes its LOCAL_RANK GPU).",
)
@click.option(
    "--precision",
    type=click.Choice(["auto", "fp32", "bf16"]),
    default="auto",
    show_default=True,
    help="auto: bf16 autocast on CUDA, fp32 on CPU.",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--workers",
    type=click.IntRange(min=0),
    default=2,
    show_default=True,
    help="Data-loader processes (read and augment audio).",
)
@click.option(
    "--checkpoint-minutes",
    type=click.FloatRange(min=0.0, min_open=True),
    default=5.0,
    show_default=True,
)
@click.option(
    "--time-budget-minutes",
    type=click.FloatRange(min=0.0, min_open=True),
    help="Cut the epochs to what fits in this much training time (decided after epoch 1).",
)
@click.option(
    "--stop-after-minutes",
    type=click.FloatRange(min=0.0, min_open=True),
    help="Checkpoint and leave after this long (continue with --resume).",
)
@click.option(
    "--hidden",
    type=click.IntRange(min=1),
    default=320,
    show_default=True,
    help="GRU units per direction.",
)
@click.option(
    "--layers",
    type=click.IntRange(min=1),
    default=4,
    show_default=True,
    help="Bidirectional GRU layers.",
)
@click.option(
    "--residual-layers",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Bidirectional GRU layers added on top as residual branches that start at zero: with"
    " --warm-start, a model grown deeper that begins with exactly the old one's outputs.",
)
@click.option(
    "--freeze-stack",
    is_flag=True,
    help="Keep the convolutions and the GRU stack of the --init or --warm-start model fixed and"
    " train only the residual layers and the output layer: capacity added on top without"
    " forgetting, in cheaper steps.",
)
@click.option("--conv-channels", type=click.IntRange(min=1), default=32, show_default=True)
@click.option(
    "--subsample",
    type=click.Choice(["2", "3", "4"]),
    default="4",
    show_default=True,
    help="Time subsampling of the convolutional front end.",
)
@click.option(
    "--dropout", type=click.FloatRange(0.0, 1.0, max_open=True), default=0.15, show_default=True
)
@click.option(
    "--speed-factors",
    default="0.9,1.0,1.1",
    show_default=True,
    help="Speed perturbation factors, one drawn per clip.",
)
@_clip_share("--noise-prob", 0.2, "Share of clips with added white or pink noise.")
@_clip_share(
    "--reverb-prob", 0.3, "Share of clips convolved with a generated room impulse response."
)
@_clip_share(
    "--telephone-prob",
    0.05,
    "Share of clips sent through a simulated phone line (300-3400 Hz, 8 kHz mu-law).",
)
@_clip_share(
    "--codec-prob",
    0.05,
    "Share of clips coded at a low bitrate (MP3, a quarter Opus) and decoded again.",
)
@_clip_share(
    "--babble-prob",
    0.1,
    "Share of clips mixed with 3-7 other utterances of the batch at 5-20 dB SNR.",
)
@_clip_share(
    "--gain-prob",
    0.0,
    "Share of clips played 20 dB quieter to 6 dB louder (uniform in dB, then clipped).",
)
@click.option(
    "--non-speech-fraction",
    type=click.FloatRange(min=0.0),
    default=0.02,
    show_default=True,
    help="Generated clips with no speech (silence, noise, hum, tones, melodies) to transcribe "
    "as empty text, as a share of the training rows.",
)
@click.option(
    "--joined-fraction",
    type=click.FloatRange(min=0.0),
    default=0.0,
    show_default=True,
    help="Utterances of 2-3 training sentences in a row (up to 12 s), as a share of the "
    "training rows: teaches input longer than one sentence.",
)
@click.option(
    "--vtlp/--no-vtlp",
    default=True,
    show_default=True,
    help="Vocal tract length perturbation (mel filters warped by 0.9-1.1 per clip).",
)
@click.option("--spec-augment/--no-spec-augment", default=True, show_default=True)
def train(
    train_specs: tuple[str, ...],
    dev_specs: tuple[str, ...],
    out_dir: str,
    resume: bool,
    init_from: str | None,
    warm_start_from: str | None,
    epochs: int,
    batch_seconds: float,
    lr: float,
    warmup_steps: int,
    device: str,
    precision: str,
    seed: int,
    workers: int,
    checkpoint_minutes: float,
    time_budget_minutes: float | None,
    stop_after_minutes: float | None,
    hidden: int,
    layers: int,
    residual_layers: int,
    freeze_stack: bool,
    conv_channels: int,
    subsample: str,
    dropout: float,
    speed_factors: str,
    noise_prob: float,
    reverb_prob: float,
    telephone_prob: float,
    codec_prob: float,
    babble_prob: float,
    gain_prob: float,
    non_speech_fraction: float,
    joined_fraction: float,
    vtlp: bool,
    spec_augment: bool,
) -> None:
    """Train the recognizer: CTC on log-mel features, checkpointing to OUT.

    \b
    Examples:
      speechpipe train --train data/manifest.tsv:train --dev data/manifest.tsv:dev --out run1/
      speechpipe train ... --out run1/ --resume
      torchrun --nproc-per-node 2 -m facespeech.cli.speech_train --device cuda ...
    """
    from facespeech.pipelines.speech_train import TrainConfig
    from facespeech.pipelines.speech_train import train as run_training
    from facespeech.stages.errors import PipelineError
    from facespeech.stages.speech.recognizer import ModelConfig, load_bundle

    try:
        model = ModelConfig(
            conv_channels=conv_channels,
            conv_time_strides=SUBSAMPLING[int(subsample)],
            rnn_hidden=hidden,
            rnn_layers=layers,
            residual_layers=residual_layers,
            dropout=dropout,
        )
        init_path = _model_path(init_from)
        if init_path is not None:
            model = load_bundle(init_path).model.config
        config = TrainConfig(
            train_specs=train_specs,
            dev_specs=dev_specs,
            out_dir=Path(out_dir),
            epochs=epochs,
            batch_seconds=batch_seconds,
            lr=lr,
            warmup_steps=warmup_steps,
            device=device,
            precision=precision,  # type: ignore[arg-type]
            seed=seed,
            workers=workers,
            checkpoint_minutes=checkpoint_minutes,
            speed_factors=_speed_factors(speed_factors),
            noise_prob=noise_prob,
            reverb_prob=reverb_prob,
            telephone_prob=telephone_prob,
            codec_prob=codec_prob,
            babble_prob=babble_prob,
            gain_prob=gain_prob,
            non_speech_fraction=non_speech_fraction,
            joined_fraction=joined_fraction,
            vtlp=vtlp,
            spec_augment=spec_augment,
            resume=resume,
            time_budget_minutes=time_budget_minutes,
            stop_after_minutes=stop_after_minutes,
            init_from=init_path,
            warm_start_from=_model_path(warm_start_from),
            freeze_stack=freeze_stack,
            model=model,
        )
        result = run_training(config)
    except PipelineError as exc:
        click.echo(f"speechpipe: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    state = "stopped early (continue with --resume)" if result.stopped_early else "done"
    click.echo(f"epochs\t{result.epochs_done}\t{state}")
    for spec, score in result.dev.items():
        click.echo(
            f"dev\t{spec}\tWER {score.wer:.2%}\tCER {score.cer:.2%}\t{score.n_utterances} utts"
        )
    click.echo(f"last\t{result.last_checkpoint}")
    if result.best_bundle is not None:
        click.echo(f"best\t{result.best_bundle}")


def main() -> None:
    """Entry point for ``torchrun -m facespeech.cli.speech_train`` (one process per device)."""
    from facespeech.cli.common import configure_logging

    configure_logging(1, False)
    train(prog_name="speech_train")


if __name__ == "__main__":
    main()
