"""Pack training audio small enough to carry to a remote training machine, and unpack it there.

A developer tool for the device runs described in ``stages/speech/models/MODEL_CARD.md``:
``pack`` concatenates the clips of manifests into a few Ogg Opus shards (low bitrate, a short
silence between clips, one header per shard instead of one per clip) plus ``index.tsv``;
``unpack`` decodes the shards back into 16-bit WAV clips and one ``manifest.tsv`` per source set,
keeping each clip's relative path (with ``.wav``), transcript, speaker and split, so manifest
specs (``manifest.tsv:dev``) select the same rows as on the original data.

    python -m facespeech.pipelines.speech_train_carry pack OUT_DIR MANIFEST[:split]...
    python -m facespeech.pipelines.speech_train_carry unpack CARRY_DIR OUT_DIR
"""

from __future__ import annotations

import argparse
import csv
import logging
import sys
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from facespeech.pipelines.manifest import ManifestRow, parse_spec, read_manifest
from facespeech.stages.speech.audio import SAMPLE_RATE, AudioLoader

log = logging.getLogger(__name__)

GAP_S = 0.25  # silence between clips in a shard: the codec's look-ahead does not bleed across
SHARD_S = 1800.0  # seconds of audio per shard (shards encode and decode in parallel)
OPUS_COMPRESSION_LEVEL = 0.96  # libsndfile's Opus level: 0.96 gives about 16 kbit/s at 16 kHz
INDEX_COLUMNS = ("shard", "start", "length", "set", "path", "transcript", "speaker", "split")


@dataclass(frozen=True, slots=True)
class _Clip:
    set_name: str
    relative: str
    row: ManifestRow


def _shard_job(args: tuple[Path, list[_Clip], float]) -> list[tuple[str, ...]]:
    out, clips, level = args
    loader = AudioLoader()
    gap = np.zeros(round(GAP_S * SAMPLE_RATE), dtype=np.float32)
    parts: list[np.ndarray] = []
    records: list[tuple[str, ...]] = []
    start = 0
    for clip in clips:
        samples = loader(clip.row.path).samples
        parts += [samples, gap]
        row = clip.row
        position = (out.name, str(start), str(len(samples)))
        records.append(
            (*position, clip.set_name, clip.relative, row.transcript, row.speaker, row.split)
        )
        start += len(samples) + len(gap)
    sf.write(
        out,
        np.concatenate(parts),
        SAMPLE_RATE,
        format="OGG",
        subtype="OPUS",
        compression_level=level,
    )
    return records


def _relative_wav(row: ManifestRow, base: Path) -> str:
    try:
        relative = row.path.relative_to(base)
    except ValueError:  # a clip outside the manifest's folder (absolute path)
        relative = Path("audio", row.split or "all", row.path.name)
    return relative.with_suffix(".wav").as_posix()


def pack(
    specs: Sequence[str], out_dir: Path, *, level: float = OPUS_COMPRESSION_LEVEL, jobs: int = 2
) -> Path:
    """Encode the rows of ``specs`` into ``out_dir`` (shards + ``index.tsv``); returns the index."""
    out_dir.mkdir(parents=True, exist_ok=True)
    shards: list[tuple[Path, list[_Clip], float]] = []
    for spec in specs:
        manifest, _ = parse_spec(spec)
        set_name = manifest.parent.name
        current: list[_Clip] = []
        seconds = 0.0
        for row in read_manifest(spec):
            relative = _relative_wav(row, manifest.parent.resolve())
            current.append(_Clip(set_name, relative, row))
            seconds += row.duration_s or 0.0
            if seconds >= SHARD_S:
                shards.append((out_dir / f"shard{len(shards):03d}.opus", current, level))
                current, seconds = [], 0.0
        if current:
            shards.append((out_dir / f"shard{len(shards):03d}.opus", current, level))
    index = out_dir / "index.tsv"
    with ProcessPoolExecutor(max_workers=jobs) as pool, index.open("w", newline="") as f:
        writer = csv.writer(f, delimiter="\t", quoting=csv.QUOTE_NONE, escapechar="\\")
        writer.writerow(INDEX_COLUMNS)
        for records in pool.map(_shard_job, shards):
            writer.writerows(records)
            log.info("packed %s (%d clips)", records[0][0], len(records))
    return index


def _unpack_shard(args: tuple[Path, list[dict[str, str]], Path]) -> int:
    shard, records, out_dir = args
    samples, rate = sf.read(shard, dtype="int16")
    assert rate == SAMPLE_RATE, rate
    for record in records:
        start, length = int(record["start"]), int(record["length"])
        target = out_dir / record["set"] / record["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        sf.write(target, samples[start : start + length], SAMPLE_RATE, subtype="PCM_16")
    return len(records)


def unpack(carry_dir: Path, out_dir: Path, *, jobs: int = 8) -> list[Path]:
    """Decode ``carry_dir`` (made by :func:`pack`) into ``out_dir/<set>/``; returns manifests."""
    with (carry_dir / "index.tsv").open(newline="") as f:
        records = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE, escapechar="\\"))
    by_shard: dict[str, list[dict[str, str]]] = {}
    for record in records:
        by_shard.setdefault(record["shard"], []).append(record)
    jobs_args = [(carry_dir / name, recs, out_dir) for name, recs in by_shard.items()]
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        done = sum(pool.map(_unpack_shard, jobs_args))
    log.info("unpacked %d clips", done)
    manifests = []
    for set_name in sorted({r["set"] for r in records}):
        manifest = out_dir / set_name / "manifest.tsv"
        with manifest.open("w", newline="") as f:
            writer = csv.writer(f, delimiter="\t", quoting=csv.QUOTE_NONE, escapechar="\\")
            writer.writerow(("path", "transcript", "speaker", "split", "duration"))
            for r in records:
                if r["set"] == set_name:
                    duration = f"{int(r['length']) / SAMPLE_RATE:.3f}"
                    writer.writerow(
                        (r["path"], r["transcript"], r["speaker"], r["split"], duration)
                    )
        manifests.append(manifest)
    return manifests


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m facespeech.pipelines.speech_train_carry")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pack", help="encode manifests' clips into Opus shards")
    p.add_argument("out_dir", type=Path)
    p.add_argument("specs", nargs="+")
    p.add_argument("--level", type=float, default=OPUS_COMPRESSION_LEVEL)
    p.add_argument("--jobs", type=int, default=2)
    u = sub.add_parser("unpack", help="decode shards into WAV clips and manifests")
    u.add_argument("carry_dir", type=Path)
    u.add_argument("out_dir", type=Path)
    u.add_argument("--jobs", type=int, default=8)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(name)s: %(message)s")
    if args.command == "pack":
        pack(args.specs, args.out_dir, level=args.level, jobs=args.jobs)
    else:
        unpack(args.carry_dir, args.out_dir, jobs=args.jobs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
