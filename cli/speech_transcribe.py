"""``speechpipe transcribe``, ``evaluate`` and ``build-lm``.

Transcripts go to stdout (or to files under ``--output-dir``), errors to stderr, one line per
bad file ("speechpipe: <file>: <reason>"). Exit status: 0 all files fine, 1 some failed, 2 bad
usage or set-up (no model, unreadable language model).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click
from facespeech.cli.common import EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE
from facespeech.cli.speech_output import FORMATS, WRITERS, to_json, write_atomic
from facespeech.pipelines.paths import walk_files
from facespeech.pipelines.runner import Result
from facespeech.pipelines.speech import (
    Decoder,
    EvalReport,
    FileTranscript,
    make_decoder,
)
from facespeech.pipelines.speech import (
    evaluate as evaluate_rows,
)
from facespeech.pipelines.speech import (
    transcribe as transcribe_paths,
)
from facespeech.stages.errors import PipelineError
from facespeech.stages.speech.audio import is_media_path
from facespeech.stages.speech.ctc_decode import (
    DEFAULT_BEAM_WIDTH,
    DEFAULT_LM_WEIGHT,
    DEFAULT_WORD_BONUS,
)
from facespeech.stages.speech.lm import (
    DEFAULT_ORDER,
    UnigramPrior,
    build_kneser_ney,
    default_lm_path,
)

log = logging.getLogger("facespeech.cli")
F = TypeVar("F", bound=Callable[..., Any])

MODEL_ENV = "SPEECHPIPE_MODEL"  # a recognizer model file to use instead of the shipped one
LM_ENV = "SPEECHPIPE_LM"  # an ARPA language model to use instead of the shipped one


def report(error: PipelineError | str) -> None:
    click.echo(f"speechpipe: {error}", err=True)


def decoder_options(function: F) -> F:
    """Options shared by ``transcribe`` and ``evaluate``: model, decoding, device."""
    options = [
        click.option(
            "--model",
            type=click.Path(dir_okay=False, path_type=Path),
            envvar=MODEL_ENV,
            help=f"Recognizer model file (default: the shipped model; env {MODEL_ENV}).",
        ),
        click.option(
            "--beam-width",
            type=click.IntRange(0),
            default=DEFAULT_BEAM_WIDTH,
            show_default=True,
            help="Prefixes kept by the beam search; 0 or 1 decodes greedily (no LM).",
        ),
        click.option(
            "--lm",
            type=click.Path(dir_okay=False, path_type=Path),
            envvar=LM_ENV,
            help="ARPA word n-gram model (.arpa or .arpa.gz; default: the shipped one; "
            f"env {LM_ENV}).",
        ),
        click.option("--no-lm", is_flag=True, help="Beam search without a language model."),
        click.option(
            "--lm-weight",
            type=float,
            default=DEFAULT_LM_WEIGHT,
            show_default=True,
            help="Scale of the LM log-probabilities.",
        ),
        click.option(
            "--word-bonus",
            type=float,
            default=DEFAULT_WORD_BONUS,
            show_default=True,
            help="Score added per word (more words when higher).",
        ),
        click.option(
            "--words",
            help='Only these words may be recognised, e.g. "zero one two three four five six '
            'seven eight nine" (turns the default LM off).',
        ),
        click.option(
            "--words-file",
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            help="Like --words, from a file of words separated by spaces or lines.",
        ),
        click.option("--device", default="cpu", show_default=True, help="cpu, cuda or cuda:N."),
        click.option(
            "--int8",
            is_flag=True,
            help="Run the recognizer with int8 weights (CPU only): about twice as fast, "
            "a little less accurate (see the model card).",
        ),
        click.option(
            "--jobs",
            type=click.IntRange(1),
            default=None,
            help="CPU threads for the recognizer (default: torch's, one per core).",
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def build_decoder(options: dict[str, Any]) -> Decoder:
    """The decoder the options ask for; raises ``click.UsageError`` or ``PipelineError``."""
    vocabulary: list[str] | None = None
    if options["words"] is not None or options["words_file"] is not None:
        vocabulary = (options["words"] or "").lower().split()
        if options["words_file"] is not None:
            vocabulary += options["words_file"].read_text(encoding="utf-8").lower().split()
    lm_path: Path | None = options["lm"]
    beam = options["beam_width"] > 1
    if options["no_lm"]:
        lm_path = None
    elif lm_path is None and beam and vocabulary is None and default_lm_path().is_file():
        lm_path = default_lm_path()
    try:
        return make_decoder(
            beam_width=options["beam_width"],
            lm_path=lm_path,
            lm_weight=options["lm_weight"],
            word_bonus=options["word_bonus"],
            vocabulary=vocabulary,
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc


def _set_threads(jobs: int | None) -> None:
    if jobs is not None:
        import torch

        torch.set_num_threads(jobs)


def _total_seconds(paths: Sequence[Path]) -> float | None:
    """Audio seconds of all files, when libsndfile can tell (for the progress bar)."""
    from facespeech.stages.speech.audio import soundfile_duration_s

    total = 0.0
    for path in paths:
        seconds = soundfile_duration_s(path)
        if seconds is None:
            return None
        total += seconds
    return total


class _Progress:
    """A seconds-of-audio progress bar on stderr (shown only on a terminal)."""

    def __init__(self, paths: Sequence[Path]) -> None:
        from tqdm import tqdm

        self.bar = tqdm(
            total=_total_seconds(paths),
            unit="s",
            desc="transcribing",
            file=sys.stderr,
            disable=None,
            leave=False,
        )
        self.done_before = 0.0  # seconds of the files already finished
        self.current = 0.0

    def update(self, _path: Path, seconds: float) -> None:
        self.bar.update(max(0.0, seconds - self.current))
        self.current = seconds

    def next_file(self, duration_s: float) -> None:
        self.bar.update(max(0.0, duration_s - self.current))
        self.current = 0.0

    def close(self) -> None:
        self.bar.close()


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice([*FORMATS, "all"]),
    default="txt",
    show_default=True,
    help="Output format. On stdout: txt (the text; 'path<TAB>text' rows for several files) "
    "and json (one document per line) for any number of files, srt/vtt/tsv for one.",
)
@click.option(
    "--output-dir",
    "-o",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write FILE's transcript to OUTPUT_DIR/<name>.<format> instead of stdout.",
)
@decoder_options
def transcribe(files: tuple[Path, ...], fmt: str, output_dir: Path | None, **options: Any) -> None:
    """Transcribe speech in FILE... (WAV, FLAC, OGG/Opus, MP3; others with ffmpeg).

    A folder is walked for audio and video files (recursively, in name order).

    \b
    Examples:
      speechpipe transcribe talk.wav
      speechpipe transcribe --format srt -o subs/ *.flac
      speechpipe transcribe --words "zero one two three four five six seven eight nine" pin.wav
    """
    walked = list(walk_files(files, is_media_path))
    paths = [item for item in walked if isinstance(item, Path)]
    empty_folders = [item for item in walked if not isinstance(item, Path)]
    several = len(paths) > 1 or any(path.is_dir() for path in files)  # rows name their file
    if output_dir is None and fmt == "all":
        raise click.UsageError("--format all needs --output-dir")
    if output_dir is None and fmt in ("srt", "vtt", "tsv") and several:
        raise click.UsageError(f"--format {fmt} on stdout takes one file; use --output-dir")
    for error in empty_folders:
        report(error)
    decoder = build_decoder_or_exit(options)
    if output_dir is not None:
        output_dir.mkdir(parents=True, exist_ok=True)
    _set_threads(options["jobs"])
    bar = _Progress(paths)
    failed = len(empty_folders)
    try:
        results = transcribe_paths(
            paths,
            model_path=options["model"],
            decoder=decoder,
            device=options["device"],
            int8=options["int8"],
            on_progress=bar.update,
        )
        for result in _guarded(results):
            if result.value is None:
                failed += 1
                report(result.error or f"{result.source}: failed")
                bar.next_file(0.0)
                continue
            bar.next_file(result.value.duration_s)
            if output_dir is not None:
                _write_files(result.value, output_dir, fmt)
            else:
                click.echo(_stdout_text(result.value, fmt, several=several), nl=False)
    finally:
        bar.close()
    sys.exit(EXIT_SOME_FAILED if failed else EXIT_OK)


def build_decoder_or_exit(options: dict[str, Any]) -> Decoder:
    """The decoder the options ask for (exit 2 on a bad LM or word list, or a usage error)."""
    if options["int8"] and options["device"] != "cpu":
        raise click.UsageError(f"--int8 runs on the CPU only, not on {options['device']}")
    try:
        return build_decoder(options)
    except PipelineError as exc:
        report(exc)
        sys.exit(EXIT_USAGE)


def _guarded(results: Iterator[Result[FileTranscript]]) -> Iterator[Result[FileTranscript]]:
    """The results; a set-up fault (no model) is one stderr line and exit status 2."""
    try:
        yield from results
    except PipelineError as exc:
        report(exc)
        sys.exit(EXIT_USAGE)


def _stdout_text(transcript: FileTranscript, fmt: str, *, several: bool) -> str:
    if fmt == "json":
        return to_json(transcript)
    if fmt == "txt" and several:
        return f"{transcript.source}\t{transcript.text}\n"
    return WRITERS[fmt](transcript)


def _write_files(transcript: FileTranscript, folder: Path, fmt: str) -> None:
    for name in FORMATS if fmt == "all" else (fmt,):
        target = folder / f"{transcript.source.stem}.{name}"
        try:
            write_atomic(target, WRITERS[name](transcript))
        except OSError as exc:
            report(f"{target}: cannot write: {exc.strerror or exc}")
            sys.exit(EXIT_USAGE)


@click.command()
@click.argument("manifests", nargs=-1, required=True)
@click.option("--details", is_flag=True, help="Also print one row per file.")
@decoder_options
def evaluate(manifests: tuple[str, ...], details: bool, **options: Any) -> None:
    """Word and character error rates and real-time factor on MANIFEST[:SPLIT]...

    A manifest is a TSV file with path and transcript columns; ':test' keeps the rows of that
    split. One summary row per manifest (WER, CER as fractions; RTF: wall over audio time).

    \b
    Examples:
      speechpipe evaluate data/speechocean762/manifest.tsv:test
      speechpipe evaluate --words "zero one two three four five six seven eight nine" \\
          data/fsdd/manifest.tsv:test
    """
    from facespeech.pipelines.manifest import read_manifest

    decoder = build_decoder_or_exit(options)
    _set_threads(options["jobs"])
    reports: list[tuple[str, EvalReport]] = []
    for spec in manifests:
        try:
            rows = list(read_manifest(spec))
            result = evaluate_rows(
                rows,
                model_path=options["model"],
                decoder=decoder,
                device=options["device"],
                int8=options["int8"],
            )
        except (PipelineError, ValueError, OSError) as exc:
            report(exc if isinstance(exc, PipelineError) else f"{spec}: {exc}")
            sys.exit(EXIT_USAGE)
        reports.append((spec, result))
        for score in result.files:
            if score.error is not None:
                report(score.error)
        if details:
            click.echo("path\twer\tcer\treference\thypothesis")
            for s in result.files:
                wer = "" if s.wer is None else f"{s.wer:.3f}"
                cer = "" if s.cer is None else f"{s.cer:.3f}"
                click.echo(f"{s.path}\t{wer}\t{cer}\t{s.reference}\t{s.hypothesis}")
    click.echo("set\tfiles\tfailed\twer\tcer\trtf\taudio_s")
    for spec, r in reports:
        click.echo(
            f"{spec}\t{len(r.files)}\t{r.n_failed}\t{r.wer:.4f}\t{r.cer:.4f}"
            f"\t{r.real_time_factor:.4f}\t{r.audio_s:.1f}"
        )
    sys.exit(EXIT_SOME_FAILED if any(r.n_failed for _, r in reports) else EXIT_OK)


def _repeats(text: str) -> tuple[str, int]:
    """``"corpus.txt*5"`` -> ``("corpus.txt", 5)``; no suffix counts once."""
    spec, star, times = text.rpartition("*")
    if star and times.isdigit() and int(times) >= 1:
        return spec, int(times)
    return text, 1


@click.command("build-lm")
@click.argument("texts", nargs=-1, required=True)
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="ARPA file to write (.arpa.gz is compressed).",
)
@click.option("--order", type=click.IntRange(1, 6), default=DEFAULT_ORDER, show_default=True)
@click.option(
    "--min-count",
    "min_counts",
    type=click.IntRange(1),
    multiple=True,
    help="Keep n-grams seen at least this often; once per order from bigrams up "
    "(--min-count 2 --min-count 2 drops bigrams and trigrams seen once).",
)
@click.option(
    "--exclude",
    "excludes",
    multiple=True,
    metavar="TEXT",
    help="Drop every sentence of TEXT (same kinds as TEXTS, e.g. a test set's manifest) "
    "from the model's text (repeatable).",
)
@click.option(
    "--unigram-prior",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Word frequency list (word<TAB>frequency lines, e.g. from a general-English list) "
    "to mix into the unigram probabilities; the vocabulary stays the text's.",
)
@click.option(
    "--unigram-prior-weight",
    type=click.FloatRange(0.0, 1.0),
    default=1.0,
    show_default=True,
    help="Share of the unigram probabilities taken from --unigram-prior.",
)
def build_lm(
    texts: tuple[str, ...],
    out: Path,
    order: int,
    min_counts: tuple[int, ...],
    excludes: tuple[str, ...],
    unigram_prior: Path | None,
    unigram_prior_weight: float,
) -> None:
    """Build a Kneser-Ney word n-gram model from TEXT... into an ARPA file.

    TEXT is a plain text file (sentences, .gz allowed), a speech manifest with a split
    (MANIFEST.tsv:train: never use dev or test transcripts) or a WordNet database folder
    (Debian's wordnet-base: /usr/share/wordnet). Text is normalised as transcripts are.
    TEXT*N counts that text N times (more weight for a small in-domain text).

    \b
    Example:
      speechpipe build-lm data/*/manifest.tsv:train /usr/share/wordnet --out lm.arpa.gz \
          --exclude data/*/manifest.tsv
    """
    from facespeech.pipelines.lm_text import read_lm_text, read_word_frequencies

    def sentences() -> Iterator[list[str]]:
        for text in texts:
            spec, times = _repeats(text)
            lines = [words for words in read_lm_text(spec) if tuple(words) not in held_out]
            log.info("%s: %d sentences, counted %d times", spec, len(lines), times)
            for _ in range(times):
                yield from lines

    try:
        held_out = {tuple(words) for spec in excludes for words in read_lm_text(spec)}
        if excludes:
            log.info("excluding %d distinct sentences", len(held_out))
        prior = (
            UnigramPrior(read_word_frequencies(unigram_prior), unigram_prior_weight)
            if unigram_prior is not None
            else None
        )
        model = build_kneser_ney(
            sentences(), order=order, min_counts=min_counts, unigram_prior=prior
        )
        model.write_arpa(out)
    except (PipelineError, ValueError, OSError) as exc:
        report(exc if isinstance(exc, PipelineError) else str(exc))
        sys.exit(EXIT_USAGE)
    counts = ", ".join(f"{n}-grams {c}" for n, c in enumerate(model.ngram_counts(), start=1))
    click.echo(f"{out}: {counts}; {os.path.getsize(out)} bytes")
