"""Speech benchmark: our recognizer against pocketsphinx 5 on the shared dev/test sets.

For each set (speechocean762 dev and test, fsdd test with and without the digit vocabulary,
and issue 10's held-out TTS voices, flite rms and slt, which ``tts_heldout.py`` builds into a
cache folder, reading sentences and, with and without the vocabulary, digits; skipped, saying
why, where flite is not installed; and speechocean762 dev recorded under other conditions,
``QUIET`` (30 dB too quietly) and ``HUM`` (mains hum as loud as the voice), 16-bit copies in
another cache folder) it measures word and character
error rate (jiwer, after ``normalize_transcript`` on both sides) and real-time factor of our
default model, greedy and beam search with the language model, and of pocketsphinx 5 with its
bundled en-us model (a JSGF digit grammar where ours gets the digit vocabulary), in the same
run. Then ``speechpipe transcribe`` transcribes a one-hour
file made of the clips laid end to end (in a temporary folder): peak memory (RSS) and
real-time factor. Results go to the "speech" section of ``benchmarks/RESULTS.md`` and to
``benchmarks/results/speech.json``.

    .venv/bin/python benchmarks/speech.py --peer-python .bench-venv/bin/python [--quick]

Real-time factor = wall-clock processing seconds / audio seconds on ``THREADS`` CPU threads;
reading the audio and loading the model file are counted, building the decoders (the LM) is
not; the long file's RTF counts everything, interpreter start-up included. The CPU-time RTF
beside it (process CPU seconds, all threads) is less disturbed by other work on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import jiwer

# As `speechpipe` does (cli/speechpipe.py), before torch is imported: spinning OpenMP waits
# make the GRU many times slower on busy cores, so the in-process timings match the CLI's.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling modules below
import speech_long
import tts_heldout
from facespeech.pipelines.manifest import read_manifest
from facespeech.stages.speech.text import normalize_transcript
from report import RESULTS_JSON_DIR, machine, update_section
from speech_ours import (
    DECODERS,
    GREEDY_WITH_WORDS,
    SystemRun,
    build_decoder,
    label,
    model_description,
    pending_reason,
    transcribe_set,
)
from speech_report import check_targets, render

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "speech"
DEFAULT_PEER_PYTHON = REPO_ROOT / ".bench-venv" / "bin" / "python"
PEER_SCRIPT = Path(__file__).resolve().parent / "peer_pocketsphinx.py"
DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
QUICK_FILES = 6  # files per set with --quick, spread evenly over the set
LONG_S = 3600.0  # the "one-hour file"
QUICK_LONG_S = 120.0
THREADS = 2  # the CPU budget of the targets
TTS_HELDOUT = "tts-heldout"  # EvalSet.corpus of the set tts_heldout.py builds (not under --data)
TTS_DIGITS = "tts-digits"  # EvalSet.corpus of tts_heldout.py's digits set
TTS_CONTROL = "tts-heldout-text"  # tts-heldout's sentences by voices heard in training
DEFAULT_CONDITION_CACHE = Path(tempfile.gettempdir()) / "facespeech-bench" / "conditions"


@dataclass(frozen=True, slots=True)
class Condition:
    """How a set's files are played for a condition set: 16-bit WAV copies in
    ``--condition-cache``/``name``, ``gain_db`` louder (negative: quieter), with mains hum added
    where ``hum_hz`` is given: a sine there and its harmonics at ``hum_harmonics`` of its
    amplitude, their RMS ``hum_snr_db`` below the clip's own RMS (so 0 is as loud as the clip).
    ``telephone``: sent through a phone line instead, written as 8 kHz G.711 mu-law WAV."""

    name: str
    description: str
    gain_db: float = 0.0
    hum_hz: float | None = None
    hum_harmonics: tuple[float, ...] = ()
    hum_snr_db: float = 0.0
    telephone: bool = False


QUIET = Condition(
    "-30dB",
    "speechocean762 dev scaled by -30 dB and written as 16-bit WAV (by `benchmarks/speech.py`"
    " into `--condition-cache`): the same speakers as speechocean762-dev recorded with the"
    " input gain far too low, median level near -60 dBFS",
    gain_db=-30.0,
)
HUM = Condition(
    "hum50",
    "speechocean762 dev with mains hum added (by `benchmarks/speech.py` into"
    " `--condition-cache`, 16-bit WAV): 50 Hz with harmonics at 100 and 150 Hz (half and a"
    " quarter of its amplitude), together as loud as each clip (RMS), as from a ground loop"
    " or a cheap microphone cable",
    hum_hz=50.0,
    hum_harmonics=(0.5, 0.25),
)
PHONE = Condition(
    "phone",
    "speechocean762 dev through a telephone line (by `benchmarks/speech.py` into"
    " `--condition-cache`): resampled to 8 kHz, a 4th-order Butterworth band-pass of"
    " 300-3400 Hz, stored as G.711 mu-law WAV as a phone system or voicemail keeps it"
    " (training's own phone simulation differs: an FFT band limit at 16 kHz)",
    telephone=True,
)
TELEPHONE_RATE_HZ = 8_000
TELEPHONE_BAND_HZ = (300.0, 3400.0)
# The long file cycles through these sets' clips (real read speech, with pauses between).
LONG_FILE_SETS = ("speechocean762-test", "speechocean762-dev")
# The long file is transcribed twice: default decoding (beam + LM), then greedy.
LONG_RUNS = {"beam": [], "greedy": ["--beam-width", "1"]}


@dataclass(frozen=True, slots=True)
class EvalSet:
    name: str
    corpus: str  # folder under the data directory, or TTS_HELDOUT
    split: str
    words: tuple[str, ...] | None = None  # vocabulary (ours) / JSGF grammar (pocketsphinx)
    # keep only the rows whose transcript is nothing but these words (e.g. digit strings)
    only_words: tuple[str, ...] | None = None
    condition: Condition | None = None  # the set's files played so (copies in --condition-cache)


EVAL_SETS = (
    EvalSet("speechocean762-dev", "speechocean762", "dev"),
    EvalSet("speechocean762-test", "speechocean762", "test"),
    EvalSet("speechocean762-dev-quiet", "speechocean762", "dev", condition=QUIET),
    EvalSet("speechocean762-dev-hum", "speechocean762", "dev", condition=HUM),
    EvalSet("speechocean762-dev-phone", "speechocean762", "dev", condition=PHONE),
    EvalSet("fsdd-test", "fsdd", "test"),
    EvalSet("fsdd-test-digits", "fsdd", "test", DIGITS),
    EvalSet("tts-heldout", TTS_HELDOUT, "test"),
    EvalSet("tts-heldout-text", TTS_CONTROL, "test"),
    EvalSet("tts-digits", TTS_DIGITS, "test"),
    EvalSet("tts-digits-vocab", TTS_DIGITS, "test", DIGITS),
    # Digit strings read by speechocean762 speakers no model here trained on (its dev and test
    # speakers): the only real unseen-speaker digits in ../shared, 8 utterances of 4-5 digits.
    EvalSet("speechocean762-digits", "speechocean762", "dev+test", only_words=DIGITS),
    EvalSet("speechocean762-digits-vocab", "speechocean762", "dev+test", DIGITS, DIGITS),
)


@dataclass(frozen=True, slots=True)
class Utterance:
    path: Path
    reference: str  # normalized
    duration_s: float


def set_manifest(eval_set: EvalSet, args: argparse.Namespace) -> Path:
    """The set's manifest: under ``--data``, or the held-out TTS set, built (or found up to
    date) in ``--tts-cache``; raises ``tts_heldout.HeldOutUnavailable`` where it cannot be."""
    if eval_set.corpus == TTS_HELDOUT:
        _log(f"{eval_set.name}: building (or checking) the set in {args.tts_cache}")
        return tts_heldout.build(args.tts_cache, speech_data=args.data)
    if eval_set.corpus == TTS_DIGITS:
        return tts_heldout.build_digits(args.tts_digits_cache)
    if eval_set.corpus == TTS_CONTROL:
        return tts_heldout.build(
            args.tts_control_cache, speech_data=args.data, voices=tts_heldout.CONTROL_VOICES
        )
    return args.data / eval_set.corpus / "manifest.tsv"


def load_set(manifest: Path, eval_set: EvalSet, limit: int | None) -> list[Utterance]:
    """The set's manifest rows (``split`` may join several with '+'), transcripts normalized,
    only those made of ``only_words`` where the set says so; ``limit`` spread evenly."""
    rows = [
        row for split in eval_set.split.split("+") for row in read_manifest(f"{manifest}:{split}")
    ]
    utterances = [
        Utterance(Path(row.path), normalize_transcript(row.transcript), row.duration_s)
        for row in rows
    ]
    if eval_set.only_words is not None:
        allowed = set(eval_set.only_words)
        utterances = [u for u in utterances if u.reference and set(u.reference.split()) <= allowed]
    if limit is not None and len(utterances) > limit:
        step = len(utterances) / limit
        utterances = [utterances[int(i * step)] for i in range(limit)]
    return utterances


def conditioned(utterances: list[Utterance], condition: Condition, cache: Path) -> list[Utterance]:
    """The utterances' audio played under ``condition``, as 16-bit WAV copies in
    ``cache``/``condition.name`` (made where missing; the name holds the source's path, so
    different sets do not collide)."""
    import numpy as np
    import soundfile as sf

    folder = cache / condition.name
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for u in utterances:
        copy = folder / ("_".join(u.path.parts[-4:]) + ".wav")
        if not copy.is_file():
            samples, rate = sf.read(u.path, dtype="float64")
            if samples.ndim > 1:
                samples = samples.mean(axis=1)
            played = samples * 10 ** (condition.gain_db / 20)
            if condition.hum_hz is not None:
                played = played + _hum(played, rate, condition)
            subtype = "PCM_16"
            if condition.telephone:
                played, rate, subtype = _telephone_line(played, rate), TELEPHONE_RATE_HZ, "ULAW"
            partial = copy.with_suffix(".part.wav")
            sf.write(partial, np.clip(played, -1.0, 1.0), rate, subtype=subtype)
            partial.replace(copy)
        out.append(Utterance(copy, u.reference, u.duration_s))
    return out


def _hum(samples: Any, rate: int, condition: Condition) -> Any:
    """Mains hum as ``condition`` says, for ``samples`` ``float64 (n,)`` at ``rate`` Hz."""
    import numpy as np

    assert condition.hum_hz is not None
    t = np.arange(len(samples)) / rate
    amplitudes = (1.0, *condition.hum_harmonics)
    hum = sum(
        a * np.sin(2 * np.pi * condition.hum_hz * (k + 1) * t) for k, a in enumerate(amplitudes)
    )
    target_rms = np.sqrt(np.mean(samples**2)) * 10 ** (-condition.hum_snr_db / 20)
    return hum * target_rms / np.sqrt(np.mean(hum**2))


def _telephone_line(samples: Any, rate: int) -> Any:
    """``samples`` ``float64 (n,)`` at ``rate`` Hz -> the phone line's band at 8 kHz (the
    mu-law coding is the WAV's)."""
    import scipy.signal
    import soxr

    narrow = soxr.resample(samples, rate, TELEPHONE_RATE_HZ, quality="HQ")
    band = scipy.signal.butter(
        4, TELEPHONE_BAND_HZ, btype="bandpass", fs=TELEPHONE_RATE_HZ, output="sos"
    )
    return scipy.signal.sosfilt(band, narrow)


def thread_env() -> dict[str, str]:
    """The environment for child processes, held to ``THREADS`` threads."""
    limits = {name: str(THREADS) for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    return {**os.environ, **limits}


def shown_path(path: Path) -> str:
    """``path`` as the results show it: relative to the repository when beside it
    (``../shared/...``), under ``~`` when in the home folder, else as it is."""
    resolved = path.resolve()
    if resolved.is_relative_to(REPO_ROOT.parent):
        return os.path.relpath(resolved, REPO_ROOT)
    if resolved.is_relative_to(Path.home()):
        return f"~/{resolved.relative_to(Path.home())}"
    return str(path)


def run_peer(peer_python: Path, paths: list[Path], words: tuple[str, ...] | None) -> SystemRun:
    """pocketsphinx on ``paths`` in the benchmark venv (``peer_pocketsphinx.py``)."""
    request = {"files": [str(p) for p in paths], "words": list(words) if words else None}
    proc = subprocess.run(
        [str(peer_python), str(PEER_SCRIPT)],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        env=thread_env(),
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{PEER_SCRIPT.name} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    results = json.loads(proc.stdout)["results"]
    return SystemRun(
        hypotheses=[normalize_transcript(r["text"]) for r in results],
        process_s=sum(r["decode_s"] for r in results),
        cpu_s=sum(r["cpu_s"] for r in results),
    )


def peer_version(peer_python: Path) -> str:
    code = "from importlib.metadata import version; print(version('pocketsphinx'))"
    proc = subprocess.run([str(peer_python), "-c", code], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(
            f"{peer_python}: pocketsphinx is not installed there (`make -f benchmarks/Makefile "
            f"bench-venv` installs it): {proc.stderr.strip()[-500:]}"
        )
    return proc.stdout.strip()


def score(utterances: list[Utterance], run: SystemRun) -> dict[str, Any]:
    """Corpus-level WER and CER, share of utterances exactly right, RTF."""
    references = [u.reference for u in utterances]
    right = sum(r == h for r, h in zip(references, run.hypotheses, strict=True))
    audio_s = sum(u.duration_s for u in utterances)
    return {
        "wer": jiwer.wer(references, run.hypotheses),
        "cer": jiwer.cer(references, run.hypotheses),
        "utterances_right": right / len(references),
        "rtf": run.process_s / audio_s,
        "cpu_rtf": run.cpu_s / audio_s,
        "process_s": run.process_s,
        "errors": run.errors,
    }


def evaluate_set(
    eval_set: EvalSet, utterances: list[Utterance], args: argparse.Namespace
) -> dict[str, Any]:
    """Every system on one set: scores, and per file the reference and each hypothesis."""
    paths = [u.path for u in utterances]
    runs: dict[str, SystemRun] = {}
    pending: dict[str, str] = {}
    grammar = ", JSGF grammar" if eval_set.words else ""
    labels = {"pocketsphinx": f"pocketsphinx {args.peer_version} (en-us{grammar})"}
    for name in DECODERS:
        labels[f"ours-{name}"] = label(name, eval_set.words)
        if args.ours_pending:
            pending[f"ours-{name}"] = args.ours_pending
            continue
        decoder = build_decoder(name, eval_set.words)
        if decoder is None:
            pending[f"ours-{name}"] = GREEDY_WITH_WORDS
            continue
        _log(f"{eval_set.name}: ours, {name}, {len(paths)} files")
        runs[f"ours-{name}"] = transcribe_set(
            paths, decoder=decoder, threads=THREADS, model_path=args.model
        )
    if not args.no_peer:
        _log(f"{eval_set.name}: pocketsphinx, {len(paths)} files")
        runs["pocketsphinx"] = run_peer(args.peer_python, paths, eval_set.words)
    return {
        "files": len(utterances),
        "audio_s": sum(u.duration_s for u in utterances),
        "words": list(eval_set.words) if eval_set.words else None,
        "systems": {name: score(utterances, run) for name, run in runs.items()},
        "pending": pending,
        "labels": labels,
        "details": [
            {"path": shown_path(u.path), "reference": u.reference}
            | {name: run.hypotheses[i] for name, run in runs.items()}
            for i, u in enumerate(utterances)
        ],
    }


def run_long(utterances: list[Utterance], duration_s: float, model: Path | None) -> dict[str, Any]:
    """Build the long file in a temporary folder; ``speechpipe transcribe`` it with the
    default decoder (beam + LM) and greedily, each in a child process."""
    clips = [(u.path, u.reference) for u in utterances]
    runs: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="speech-bench-") as tmp:
        work = Path(tmp)
        long_wav = work / "long.wav"
        audio_s, reference, n_clips = speech_long.build_long_file(clips, duration_s, long_wav)
        _log(f"long file: {audio_s / 3600:.2f} h of {n_clips} clips")
        for name, extra in LONG_RUNS.items():
            args = [*extra, "--jobs", str(THREADS), *(["--model", str(model)] if model else [])]
            _log(f"long file: speechpipe transcribe {shlex.join(args)}")
            result = speech_long.transcribe_long(long_wav, args, thread_env(), work)
            hypothesis = normalize_transcript(result.pop("text"))
            runs[name] = result | {
                "display_command": ["speechpipe", "transcribe", *args, "LONG.wav"],
                "rtf": result["wall_s"] / audio_s,
                "cpu_rtf": result["cpu_s"] / audio_s,
                "wer": jiwer.wer(reference, hypothesis),
            }
    return {"audio_s": audio_s, "clips": n_clips, "gap_s": speech_long.GAP_S, "runs": runs}


def _log(message: str) -> None:
    print(f"speech benchmark: {message}", file=sys.stderr, flush=True)


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    names = [s.name for s in EVAL_SETS]
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="shared speech data")
    parser.add_argument("--sets", nargs="+", choices=names, default=names, metavar="SET")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_FILES} files per set")
    parser.add_argument("--model", type=Path, help="recognizer file (default: the shipped one)")
    parser.add_argument("--peer-python", type=Path, default=DEFAULT_PEER_PYTHON)
    parser.add_argument(
        "--tts-cache",
        type=Path,
        default=tts_heldout.DEFAULT_OUT,
        help="folder for the held-out TTS set (built there on first use)",
    )
    parser.add_argument(
        "--tts-digits-cache",
        type=Path,
        default=tts_heldout.DEFAULT_DIGITS_OUT,
        help="folder for the held-out voices' digits set (built there on first use)",
    )
    parser.add_argument(
        "--tts-control-cache",
        type=Path,
        default=tts_heldout.DEFAULT_CONTROL_OUT,
        help="folder for the held-out sentences read by training voices (built on first use)",
    )
    parser.add_argument(
        "--condition-cache",
        type=Path,
        default=DEFAULT_CONDITION_CACHE,
        help="folder for the quiet, hum and phone copies of speechocean762 dev (made on first use)",
    )
    parser.add_argument("--no-peer", action="store_true", help="leave pocketsphinx out")
    parser.add_argument(
        "--long-s",
        type=float,
        help=f"long-file seconds (default {LONG_S:.0f}; {QUICK_LONG_S:.0f} with --quick; 0: skip)",
    )
    parser.add_argument("--no-write", action="store_true", help="print; leave RESULTS.md alone")
    parser.add_argument(
        "--rerender",
        action="store_true",
        help="measure nothing: rewrite the section from results/speech.json",
    )
    return parser.parse_args(argv)


def _versions(args: argparse.Namespace) -> dict[str, str]:
    found = {}
    for package in ("facespeech", "torch", "jiwer"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "not installed"
    if not args.no_peer:
        found["pocketsphinx"] = peer_version(args.peer_python)
    return found


def _command(argv: list[str] | None) -> str:
    python = Path(sys.executable)
    if python.is_relative_to(REPO_ROOT):
        python = python.relative_to(REPO_ROOT)
    script = Path(__file__).resolve().relative_to(REPO_ROOT)
    return shlex.join([str(python), str(script), *(sys.argv[1:] if argv is None else argv)])


def rerender() -> int:
    data = json.loads((RESULTS_JSON_DIR / "speech.json").read_text())
    data["targets"] = check_targets(data)
    markdown = render(data)
    update_section("speech", markdown, data)
    print(markdown)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.rerender:
        return rerender()
    if not args.data.is_dir():
        print(f"speech benchmark: {args.data}: no such folder", file=sys.stderr)
        return 2
    args.ours_pending = pending_reason(args.model)
    versions = _versions(args)
    args.peer_version = versions.get("pocketsphinx", "")
    data: dict[str, Any] = {
        "command": _command(argv),
        "quick": args.quick,
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine(),
        "load_average_before": os.getloadavg(),
        "threads": THREADS,
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", ""),
        "versions": versions,
        "model": args.ours_pending or model_description(args.model),
        "sets": {},
        "skipped": {},
    }
    limit = QUICK_FILES if args.quick else None
    for eval_set in EVAL_SETS:
        if eval_set.name not in args.sets:
            continue
        try:
            manifest = set_manifest(eval_set, args)
        except tts_heldout.HeldOutUnavailable as exc:
            data["skipped"][eval_set.name] = str(exc)
            _log(f"{eval_set.name}: skipped: {exc}")
            continue
        utterances = load_set(manifest, eval_set, limit)
        if eval_set.condition is not None:
            utterances = conditioned(utterances, eval_set.condition, args.condition_cache)
        data["sets"][eval_set.name] = evaluate_set(eval_set, utterances, args)
        tts_about = {
            TTS_HELDOUT: tts_heldout.DESCRIPTION,
            TTS_DIGITS: tts_heldout.DIGITS_DESCRIPTION,
            TTS_CONTROL: tts_heldout.CONTROL_DESCRIPTION,
        }.get(eval_set.corpus)
        if tts_about:
            data["versions"]["flite"] = tts_heldout.flite_version()
        about = eval_set.condition.description if eval_set.condition else tts_about
        if about:
            data["sets"][eval_set.name]["about"] = about
    long_s = args.long_s if args.long_s is not None else (QUICK_LONG_S if args.quick else LONG_S)
    if long_s > 0 and args.ours_pending:
        data["long"] = {"pending": args.ours_pending, "target_s": long_s}
    elif long_s > 0:
        pool = [
            u
            for s in EVAL_SETS
            if s.name in LONG_FILE_SETS
            for u in load_set(args.data / s.corpus / "manifest.tsv", s, None)
        ]
        data["long"] = run_long(pool, long_s, args.model)
    data["load_average_after"] = os.getloadavg()
    data["targets"] = check_targets(data)
    markdown = render(data)
    if not args.no_write:
        update_section("speech", markdown, data)
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
