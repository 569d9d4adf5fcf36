"""Training: loss falls, runs are deterministic, resume (mid-epoch too) continues bitwise, the
CLI reports and fails cleanly, two processes train with gloo, and a tiny model over-fits real
digits until its greedy transcripts are right."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from click.testing import CliRunner
from facespeech.cli.speech_train import train as train_command
from facespeech.pipelines.speech_train import TrainConfig, train
from facespeech.pipelines.speech_train_data import (
    JOIN_PAUSE_S,
    NON_SPEECH_SET,
    TrainClips,
    collate,
    joined_utterances,
    load_utterances,
    make_batches,
    non_speech_utterances,
)
from facespeech.stages.speech.augment import WaveformAugment
from facespeech.stages.speech.recognizer import ModelConfig, load_bundle

TINY = ModelConfig(conv_channels=4, rnn_hidden=16, rnn_layers=1, dropout=0.1)
EVERY_AUGMENTATION: dict[str, object] = {
    "reverb_prob": 0.5,
    "telephone_prob": 0.3,
    "codec_prob": 0.3,
    "babble_prob": 0.5,
    "non_speech_fraction": 0.5,
    "joined_fraction": 0.5,
    "vtlp": True,
}
WORDS = ("one", "two", "three", "four")


@pytest.fixture
def tone_manifest(tmp_path: Path) -> Path:
    """Four 0.5 s clips, each a different tone, labelled with a word (enough to train on)."""
    rows = ["path\ttranscript\tspeaker\tsplit\tduration"]
    t = np.arange(8000) / 16_000
    for i, word in enumerate(WORDS):
        wave = 0.3 * np.sin(2 * np.pi * (300 + 200 * i) * t) * np.hanning(len(t))
        sf.write(tmp_path / f"{word}.wav", wave.astype(np.float32), 16_000)
        rows.append(f"{word}.wav\t{word.upper()}\tspk\t{'dev' if i == 0 else 'train'}\t0.500")
    rows.append("one.wav\tONE\tspk\ttrain\t0.500")
    manifest = tmp_path / "manifest.tsv"
    manifest.write_text("\n".join(rows) + "\n")
    return manifest


def tiny_config(manifest: Path, out: Path, **changes: object) -> TrainConfig:
    config = TrainConfig(
        train_specs=(f"{manifest}:train",),
        dev_specs=(f"{manifest}:dev",),
        out_dir=out,
        epochs=3,
        batch_seconds=1.0,  # two clips per batch: two steps per epoch
        lr=3e-3,
        warmup_steps=2,
        workers=0,
        noise_prob=0.5,
        model=TINY,
    )
    return replace(config, **changes)  # type: ignore[arg-type]


def weights(path: Path) -> dict[str, torch.Tensor]:
    return dict(torch.load(path, weights_only=True)["bundle"]["state_dict"])


def test_batches_respect_padded_seconds() -> None:
    durations = [0.5, 3.0, 1.0, 2.0, 0.7, 2.5]
    batches = make_batches(durations, batch_seconds=4.0, max_items=8, rng=np.random.default_rng(0))
    assert sorted(i for b in batches for i in b) == list(range(6))
    for batch in batches:
        assert len(batch) == 1 or len(batch) * max(durations[i] for i in batch) <= 4.0


def test_loss_falls_and_files_are_written(tone_manifest: Path, tmp_path: Path) -> None:
    result = train(tiny_config(tone_manifest, tmp_path / "run", epochs=6))
    history = [
        json.loads(line) for line in (tmp_path / "run" / "train_log.jsonl").read_text().splitlines()
    ]
    assert [h["epoch"] for h in history] == [1, 2, 3, 4, 5, 6]
    assert history[-1]["loss"] < history[0]["loss"]
    assert result.epochs_done == 6
    assert not result.stopped_early
    assert set(result.dev) == {f"{tone_manifest}:dev"}
    assert result.best_bundle is not None
    bundle = load_bundle(result.best_bundle)  # the shippable file: a float16 bundle
    assert bundle.model.config == TINY
    assert bundle.features["kind"] == "log_mel"


@pytest.mark.parametrize("workers", [0, 1])
def test_time_budget_ends_training_after_the_epochs_that_fit(
    tone_manifest: Path, tmp_path: Path, workers: int
) -> None:
    # A budget far shorter than one epoch: the first epoch is always run, then none more,
    # even though a worker process has already prefetched the second epoch's batches.
    result = train(
        tiny_config(tone_manifest, tmp_path / "run", time_budget_minutes=1e-9, workers=workers)
    )
    lines = (tmp_path / "run" / "train_log.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1]
    assert result.epochs_done == 1
    assert not result.stopped_early


def test_same_seed_same_weights(tone_manifest: Path, tmp_path: Path) -> None:
    first = train(tiny_config(tone_manifest, tmp_path / "a"))
    second = train(tiny_config(tone_manifest, tmp_path / "b"))
    other_seed = train(tiny_config(tone_manifest, tmp_path / "c", seed=1))
    a, b, c = (weights(r.last_checkpoint) for r in (first, second, other_seed))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


@pytest.mark.parametrize("stop_after_steps", [2, 3])  # at an epoch boundary, and mid-epoch
def test_resume_continues_bitwise(
    tone_manifest: Path, tmp_path: Path, stop_after_steps: int
) -> None:
    straight = train(tiny_config(tone_manifest, tmp_path / "straight"))
    out = tmp_path / "resumed"
    stopped = train(tiny_config(tone_manifest, out, stop_after_steps=stop_after_steps))
    assert stopped.stopped_early
    resumed = train(tiny_config(tone_manifest, out, resume=True))
    assert resumed.epochs_done == 3
    a, b = weights(straight.last_checkpoint), weights(resumed.last_checkpoint)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_cli_trains_and_reports(tone_manifest: Path, tmp_path: Path) -> None:
    out = tmp_path / "cli"
    args = ["--train", f"{tone_manifest}:train", "--dev", f"{tone_manifest}:dev", "--out", str(out)]
    args += [
        "--epochs",
        "1",
        "--workers",
        "0",
        "--hidden",
        "8",
        "--layers",
        "1",
        "--conv-channels",
        "2",
    ]
    result = CliRunner().invoke(train_command, args)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "epochs\t1\tdone"
    assert lines[1].startswith(f"dev\t{tone_manifest}:dev\tWER ")
    assert (out / "best.pt").is_file()


def test_cli_missing_manifest_exits_2(tmp_path: Path) -> None:
    missing = tmp_path / "absent.tsv"
    result = CliRunner().invoke(
        train_command, ["--train", f"{missing}:train", "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 2
    assert f"{missing}: no such manifest" in result.stderr


def test_cli_init_and_warm_start_exclude_each_other(tone_manifest: Path, tmp_path: Path) -> None:
    args = ["--train", f"{tone_manifest}:train", "--out", str(tmp_path / "o")]
    result = CliRunner().invoke(
        train_command, [*args, "--init", "default", "--warm-start", "default"]
    )
    assert result.exit_code == 2
    assert "exclude each other" in result.stderr


@pytest.mark.slow
def test_two_processes_with_gloo(tone_manifest: Path, tmp_path: Path) -> None:
    out = tmp_path / "ddp"
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc-per-node",
        "2",
        "--master-port",
        "29517",
    ]
    command += [
        "-m",
        "facespeech.cli.speech_train",
        "--train",
        f"{tone_manifest}:train",
        "--dev",
        f"{tone_manifest}:dev",
    ]
    command += ["--out", str(out), "--epochs", "2", "--workers", "0", "--batch-seconds", "1"]
    command += ["--hidden", "8", "--layers", "1", "--conv-channels", "2"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=600, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "epochs\t2\tdone" in done.stdout
    history = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert [h["epoch"] for h in history] == [1, 2]  # written once (rank 0), not per process
    assert (out / "best.pt").is_file()


@pytest.mark.slow
def test_overfits_real_digits(speech_data: Path, tmp_path: Path) -> None:
    source = speech_data / "fsdd" / "manifest.tsv"
    wanted = {f"audio/train/george/{d}_george_10.opus" for d in range(4)}
    lines = source.read_text().splitlines()
    rows = [line for line in lines[1:] if line.split("\t")[0] in wanted]
    assert len(rows) == 4, f"expected four george_10 clips in {source}"
    manifest = tmp_path / "digits.tsv"
    absolute = [
        f"{source.parent / r.split(chr(9))[0]}\t" + "\t".join(r.split("\t")[1:]) for r in rows
    ]
    manifest.write_text("\n".join([lines[0], *absolute]) + "\n")
    config = TrainConfig(
        train_specs=(str(manifest),),
        dev_specs=(str(manifest),),
        out_dir=tmp_path / "overfit",
        epochs=200,
        batch_seconds=10.0,
        lr=1e-2,
        warmup_steps=5,
        workers=0,
        speed_factors=(),
        noise_prob=0.0,
        spec_augment=False,
        checkpoint_minutes=60.0,
        model=ModelConfig(conv_channels=8, rnn_hidden=128, rnn_layers=2, dropout=0.0),
    )
    result = train(config)
    history = [
        json.loads(line) for line in (config.out_dir / "train_log.jsonl").read_text().splitlines()
    ]
    assert history[-1]["loss"] < 0.1 * history[0]["loss"]
    assert result.dev[str(manifest)].wer == 0.0


def test_init_from_other_architecture_names_the_file(tone_manifest: Path, tmp_path: Path) -> None:
    first = train(tiny_config(tone_manifest, tmp_path / "a", epochs=1))
    assert first.best_bundle is not None
    other = replace(TINY, rnn_hidden=8)
    with pytest.raises(ValueError, match="architecture") as info:
        train(tiny_config(tone_manifest, tmp_path / "b", init_from=first.best_bundle, model=other))
    assert str(first.best_bundle) in str(info.value)


def test_warm_start_copies_the_shared_weights_of_a_smaller_model(
    tone_manifest: Path, tmp_path: Path
) -> None:
    first = train(tiny_config(tone_manifest, tmp_path / "a", epochs=1))
    assert first.best_bundle is not None
    deeper = replace(TINY, rnn_layers=TINY.rnn_layers + 1)
    # A learning rate of ~0 leaves the started weights as they were, to be compared.
    config = tiny_config(
        tone_manifest, tmp_path / "b", epochs=1, lr=1e-12, warm_start_from=first.best_bundle,
        model=deeper,
    )  # fmt: skip
    second = train(config)
    assert second.best_bundle is not None
    before = load_bundle(first.best_bundle).model.state_dict()
    after = load_bundle(second.best_bundle).model.state_dict()
    top = f"rnn.weight_ih_l{TINY.rnn_layers}"
    assert top in after
    assert top not in before
    for name, tensor in before.items():
        if name.startswith("classify"):  # its input is now the new top layer's output
            continue
        torch.testing.assert_close(after[name], tensor, atol=1e-3, rtol=0)


def test_warm_start_into_residual_layers_keeps_the_old_model_s_outputs(
    tone_manifest: Path, tmp_path: Path
) -> None:
    first = train(tiny_config(tone_manifest, tmp_path / "a", epochs=1))
    assert first.best_bundle is not None
    grown = replace(TINY, residual_layers=1)
    config = tiny_config(
        tone_manifest, tmp_path / "b", epochs=1, lr=1e-12, warm_start_from=first.best_bundle,
        model=grown,
    )  # fmt: skip
    second = train(config)
    assert second.best_bundle is not None
    before, after = load_bundle(first.best_bundle).model, load_bundle(second.best_bundle).model
    assert after.config.residual_layers == 1
    features, lengths = torch.randn(1, 80, 50), torch.tensor([50])
    with torch.inference_mode():
        torch.testing.assert_close(after(features, lengths)[0], before(features, lengths)[0],
                                   atol=1e-4, rtol=0)  # fmt: skip


def test_a_frozen_stack_keeps_its_weights_while_the_layers_on_top_learn(
    tone_manifest: Path, tmp_path: Path
) -> None:
    first = train(tiny_config(tone_manifest, tmp_path / "a", epochs=1))
    assert first.best_bundle is not None
    config = tiny_config(
        tone_manifest, tmp_path / "b", epochs=2, warm_start_from=first.best_bundle,
        model=replace(TINY, residual_layers=1), freeze_stack=True,
    )  # fmt: skip
    second = train(config)
    assert second.best_bundle is not None
    before = load_bundle(first.best_bundle).model.state_dict()
    after = load_bundle(second.best_bundle).model.state_dict()
    stack = ("conv1.", "conv2.", "project.", "rnn.")
    for name, weights in after.items():
        if name.startswith(stack):
            torch.testing.assert_close(weights, before[name], atol=0, rtol=0, msg=name)
    assert after["residual.0.out.weight"].abs().max() > 0  # started at zero
    assert not torch.equal(after["classify.weight"], before["classify.weight"])
    with pytest.raises(ValueError, match="freeze_stack needs"):
        tiny_config(tone_manifest, tmp_path / "c", freeze_stack=True)


def test_warm_start_needs_a_shared_weight(tone_manifest: Path, tmp_path: Path) -> None:
    first = train(tiny_config(tone_manifest, tmp_path / "a", epochs=1))
    assert first.best_bundle is not None
    unrelated = replace(TINY, conv_channels=TINY.conv_channels + 1, rnn_hidden=TINY.rnn_hidden + 1)
    with pytest.raises(ValueError, match="no weight matrix"):
        train(
            tiny_config(
                tone_manifest, tmp_path / "b", warm_start_from=first.best_bundle, model=unrelated
            )
        )
    with pytest.raises(ValueError, match="exclude each other"):
        tiny_config(
            tone_manifest,
            tmp_path / "c",
            init_from=first.best_bundle,
            warm_start_from=first.best_bundle,
        )


def test_non_speech_clips_are_rendered_with_empty_targets(tone_manifest: Path) -> None:
    speech = load_utterances([f"{tone_manifest}:train"])
    extra = non_speech_utterances(3, seed=0)
    assert [u.set_name for u in extra] == [NON_SPEECH_SET] * 3
    assert all(u.targets == () and 0.5 <= u.duration_s <= 6.0 for u in extra)
    augment = WaveformAugment(codec_prob=1.0)
    clips = TrainClips(speech + extra, seed=0, augment=augment)
    keys = [(0, 0, 1, i) for i in range(len(clips))]
    items = [clips[key] for key in keys]
    for utt, (wave, targets, _) in zip(clips.utterances, items, strict=True):
        assert len(wave) > 0
        assert len(targets) == len(utt.targets)
    non_speech_wave = items[len(speech)][0]
    assert abs(len(non_speech_wave) / 16_000 - extra[0].duration_s) < 0.15  # speed factor
    batch = collate(items)
    assert batch.target_lengths.tolist()[-3:] == [0, 0, 0]


def test_joined_utterances_play_their_parts_in_a_row(tone_manifest: Path) -> None:
    speech = load_utterances([f"{tone_manifest}:train"])
    joined = joined_utterances(speech, 4, seed=0)
    assert len(joined) == 4
    clips = TrainClips(joined, seed=0)
    by_path = {u.path: u for u in speech}
    for i, utt in enumerate(joined):
        parts = [by_path[p] for p in (utt.path, *utt.more_paths)]
        assert 2 <= len(parts) <= 3
        assert utt.text == " ".join(p.text for p in parts)
        assert utt.duration_s == pytest.approx(
            sum(p.duration_s for p in parts) + JOIN_PAUSE_S * (len(parts) - 1)
        )
        wave, targets, _ = clips[(0, 0, 1, i)]
        assert len(wave) == round(utt.duration_s * 16_000)
        assert len(targets) == len(utt.text)
    assert joined_utterances(speech, 3, seed=0, max_s=0.9) == []  # every draw too long
    assert joined_utterances(speech[:1], 3, seed=0) == []


def test_training_with_every_augmentation_and_non_speech(
    tone_manifest: Path, tmp_path: Path
) -> None:
    config = tiny_config(tone_manifest, tmp_path / "run", epochs=1, **EVERY_AUGMENTATION)
    result = train(config)
    assert result.epochs_done == 1
    log = [json.loads(line) for line in (tmp_path / "run" / "train_log.jsonl").open()]
    assert np.isfinite(log[0]["loss"])


@pytest.mark.gpu
def test_training_on_cuda_with_every_augmentation(tone_manifest: Path, tmp_path: Path) -> None:
    config = tiny_config(
        tone_manifest,
        tmp_path / "run",
        epochs=2,
        device="cuda",
        precision="bf16",
        **EVERY_AUGMENTATION,
    )
    result = train(config)
    assert result.epochs_done == 2
    log = [json.loads(line) for line in (tmp_path / "run" / "train_log.jsonl").open()]
    assert all(np.isfinite(entry["loss"]) for entry in log)
    assert load_bundle(tmp_path / "run" / "best.pt").model.config == TINY
