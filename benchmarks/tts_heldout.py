"""Issue 10's held-out TTS voices test set: sentences never used for training, spoken by the
two flite voices held out of training (rms, male; slt, female).

Text: the shuffled sentence list of MODEL_CARD.md, "Stages 3-4", made again here with the
functions behind ``python -m facespeech.pipelines.speech_synth sentences`` (WordNet glosses and
usage examples from ``/usr/share/wordnet`` plus the speechocean762 train transcripts, 3-15
words, every dev or test transcript of ``../shared/data/speech`` dropped, de-duplicated,
shuffled with seed 0): 157,006 lines. Training text is taken from the front of that list
(lines 1-120,000 so far, MODEL_CARD.md; nothing from line 150,001 on). This set is its **last
200 lines, 156,807-157,006** (1-based), checked against a SHA-256 so that a different WordNet
or manifest cannot silently change it. Neither the acoustic model nor the shipped LM has seen
these sentences: the LM is built with ``build-lm --exclude`` on this set's manifest
(``lm.md``).

Voices: flite's rms and slt alternating (line 156,807 rms, 156,808 slt, ...), at flite's own
settings; 16 kHz mono 16-bit WAV (resampled with soxr if flite gives another rate). Files:
``OUT/audio/<line>.wav`` and ``OUT/manifest.tsv`` (``path, transcript, speaker, split=test,
duration``, the format of ``../shared/data/speech/*/manifest.tsv``; speakers ``flite:rms`` and
``flite:slt`` as in ``speechpipe synth``'s manifests). flite is deterministic, so the set is
the same on every machine with the same flite (Debian's ``flite`` 2.2); a manifest that already
lists the expected rows, with every file present, is kept as it is.

    .venv/bin/python benchmarks/tts_heldout.py [--out ~/.cache/facespeech/tts-heldout]

``benchmarks/speech.py`` builds it through :func:`build` as its ``tts-heldout`` set.

A second, smaller set stands in for digits by a speaker no model here has heard (the fsdd
speakers of ``../shared`` are all in training): :func:`build_digits` renders the ten digit words
by rms and slt at three duration stretches (0.8, 1.0, 1.25: faster, as is, slower), 60 clips in
``~/.cache/facespeech/tts-digits`` (``--digits``); ``benchmarks/speech.py``'s ``tts-digits``
sets.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import logging
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
from facespeech.pipelines.speech_synth import MANIFEST_COLUMNS, select_sentences
from facespeech.stages.speech.audio import SAMPLE_RATE

log = logging.getLogger("tts_heldout")

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SPEECH_DATA = REPO_ROOT.parent / "shared" / "data" / "speech"
DEFAULT_WORDNET = Path("/usr/share/wordnet")
DEFAULT_OUT = Path.home() / ".cache" / "facespeech" / "tts-heldout"
DEFAULT_DIGITS_OUT = Path.home() / ".cache" / "facespeech" / "tts-digits"
DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
DIGIT_STRETCHES = (0.8, 1.0, 1.25)  # flite's duration_stretch: faster, as is, slower
VOICES = ("rms", "slt")  # alternating, the first line spoken by rms
SHUFFLE_SEED = 0  # `speech_synth sentences --seed` default, as in MODEL_CARD.md
N_SENTENCES = 200  # the last lines of the list
EXPECTED_LINES = 157_006  # the list's length (MODEL_CARD.md, "Stages 3-4")
# SHA-256 of the set's sentences, one per line ("\n" after each), lines 156,807-157,006.
EXPECTED_SHA256 = "231800933ae59cc7c0746dc8c2cf461973c8f54309a028cc3c2dee68723706dc"
FIRST_LINE = EXPECTED_LINES - N_SENTENCES + 1  # 156,807
FLITE_TIMEOUT_S = 60.0
DESCRIPTION = (
    f"issue 10's unseen-voice test, built by `benchmarks/tts_heldout.py`: lines "
    f"{FIRST_LINE:,}-{EXPECTED_LINES:,} (the last {N_SENTENCES}) of the synthetic-training "
    "sentence list of MODEL_CARD.md (WordNet glosses and speechocean762 train transcripts; "
    "training uses lines before 150,001), spoken by flite's rms and slt alternately (voices "
    "held out of training), 16 kHz. The shipped LM's text excludes these sentences "
    "(`build-lm --exclude`, lm.md)"
)

CONTROL_VOICES = ("awb", "kal16")  # flite voices heard in training
CONTROL_DESCRIPTION = (
    "the same sentences as tts-heldout read by flite's awb and kal16 alternately, voices heard "
    "in training (`benchmarks/tts_heldout.py --voices awb,kal16`): a control that tells what "
    "the sentences cost from what the unseen voices cost"
)
DEFAULT_CONTROL_OUT = DEFAULT_OUT.with_name(f"tts-heldout-text-{'-'.join(CONTROL_VOICES)}")

DIGITS_DESCRIPTION = (
    "the ten digit words spoken by flite's rms and slt (voices held out of training) at "
    "duration stretches 0.8, 1.0 and 1.25, 60 clips built by `benchmarks/tts_heldout.py "
    "--digits`: digits by voices no model here has heard (the fsdd speakers are all in training)"
)


class HeldOutUnavailable(RuntimeError):
    """The set cannot be built here (flite or WordNet missing, a different sentence list)."""


@dataclass(frozen=True, slots=True)
class Line:
    """One sentence of the list: its 1-based ``number`` and normalised ``text``."""

    number: int
    text: str


def sentence_list(
    speech_data: Path = DEFAULT_SPEECH_DATA, wordnet: Path = DEFAULT_WORDNET
) -> list[str]:
    """The shuffled list ``speech_synth sentences`` writes with MODEL_CARD.md's command
    (the same functions, the same seed); about 3 s."""
    if not (wordnet / "data.noun").is_file():
        raise HeldOutUnavailable(f"{wordnet}: no WordNet database (apt-get install wordnet-base)")
    manifests = [speech_data / name / "manifest.tsv" for name in ("speechocean762", "fsdd")]
    for manifest in manifests:
        if not manifest.is_file():
            raise HeldOutUnavailable(f"{manifest}: no such file")
    sentences = select_sentences(
        [str(wordnet), f"{manifests[0]}:train"], exclude_manifests=manifests
    )
    # As speech_synth.main does: a seeded permutation of the selection.
    order = np.random.default_rng(SHUFFLE_SEED).permutation(len(sentences))
    return [sentences[i] for i in order]


def held_out_lines(sentences: Sequence[str], n: int = N_SENTENCES) -> list[Line]:
    """The last ``n`` sentences with their 1-based line numbers."""
    first = len(sentences) - n
    return [Line(first + i + 1, text) for i, text in enumerate(sentences[first:])]


def check_lines(lines: Sequence[Line]) -> None:
    """Raise ``HeldOutUnavailable`` unless ``lines`` are the documented set."""
    digest = hashlib.sha256("".join(f"{line.text}\n" for line in lines).encode()).hexdigest()
    numbers = (lines[0].number, lines[-1].number) if lines else (0, 0)
    if numbers != (FIRST_LINE, EXPECTED_LINES) or digest != EXPECTED_SHA256:
        raise HeldOutUnavailable(
            f"the sentence list differs from MODEL_CARD.md's (lines {numbers[0]}-{numbers[1]}, "
            f"sha256 {digest[:12]}; expected {FIRST_LINE}-{EXPECTED_LINES}, "
            f"{EXPECTED_SHA256[:12]}): another WordNet or manifest?"
        )


def flite_program(voice: str) -> list[str]:
    """Debian's ``flite_cmu_us_<voice>``, else ``flite -voice <voice>`` (the same voice and
    output); raises ``HeldOutUnavailable`` when neither is installed."""
    own = shutil.which(f"flite_cmu_us_{voice}")
    if own is not None:
        return [own]
    flite = shutil.which("flite")
    if flite is None:
        raise HeldOutUnavailable("flite is not installed (apt-get install flite)")
    return [flite, "-voice", voice]


def _relative_path(line: Line) -> str:
    return f"audio/{line.number:06d}.wav"


@dataclass(frozen=True, slots=True)
class Clip:
    """One clip to render: its manifest row (without duration) and flite's duration stretch."""

    path: str
    text: str
    speaker: str  # "flite:rms"
    split: str
    stretch: float = 1.0

    def row(self) -> tuple[str, str, str, str]:
        return (self.path, self.text, self.speaker, self.split)


def _expected_clips(lines: Sequence[Line], voices: Sequence[str] = VOICES) -> list[Clip]:
    """The sentence set's clips, one per line, ``voices`` taking turns (rms and slt)."""
    return [
        Clip(_relative_path(ln), ln.text, f"flite:{voices[i % len(voices)]}", "test")
        for i, ln in enumerate(lines)
    ]


def digit_clips() -> list[Clip]:
    """The digits set: every digit word by every voice at every stretch (60 clips)."""
    return [
        Clip(f"audio/{voice}-{stretch:.2f}-{word}.wav", word, f"flite:{voice}", "test", stretch)
        for voice in VOICES
        for stretch in DIGIT_STRETCHES
        for word in DIGIT_WORDS
    ]


def manifest_matches(out_dir: Path, clips: Sequence[Clip]) -> bool:
    """Whether ``out_dir/manifest.tsv`` lists exactly ``clips`` and every file is there."""
    manifest = out_dir / "manifest.tsv"
    if not manifest.is_file():
        return False
    with manifest.open(newline="", encoding="utf-8") as f:
        records = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    if not records or tuple(records[0]) != MANIFEST_COLUMNS:
        return False
    found = [tuple(r[:4]) for r in records[1:]]
    expected = [clip.row() for clip in clips]
    return found == expected and all((out_dir / r[0]).is_file() for r in found)


def _render_one(voice: str, text: str, target: Path, raw: Path, stretch: float = 1.0) -> float:
    """Render one sentence to ``target`` (16 kHz mono PCM 16); its duration in seconds."""
    settings = [] if stretch == 1.0 else ["--setf", f"duration_stretch={stretch}"]
    try:
        subprocess.run(
            [*flite_program(voice), *settings, "-t", text, "-o", str(raw)],
            capture_output=True,
            check=True,
            timeout=FLITE_TIMEOUT_S,
        )
        samples, rate = sf.read(raw, dtype="float32", always_2d=True)
    except (OSError, subprocess.SubprocessError, sf.LibsndfileError) as exc:
        raise RuntimeError(f"{target.name}: flite {voice} failed: {exc}") from exc
    mono = samples.mean(axis=1)
    if rate != SAMPLE_RATE:
        mono = soxr.resample(mono, rate, SAMPLE_RATE).astype(np.float32)
    if mono.size == 0 or not np.any(mono):
        raise RuntimeError(f"{target.name}: flite {voice} gave no audio for {text!r}")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".part.wav")
    sf.write(partial, np.clip(mono, -1.0, 1.0), SAMPLE_RATE, subtype="PCM_16")
    partial.replace(target)
    return mono.size / SAMPLE_RATE


def render(lines: Sequence[Line], out_dir: Path, voices: Sequence[str] = VOICES) -> Path:
    """Render ``lines`` into ``out_dir`` (``voices`` taking turns, the first line by the first
    voice) and write ``out_dir/manifest.tsv`` last; returns the manifest. Kept as it is when it
    already lists ``lines`` with every file present. Raises ``HeldOutUnavailable`` without flite and
    ``RuntimeError`` when flite fails on a sentence (the set must be complete)."""
    return render_clips(_expected_clips(lines, voices), out_dir)


def render_clips(clips: Sequence[Clip], out_dir: Path) -> Path:
    """``render`` for any clips (see there)."""
    manifest = out_dir / "manifest.tsv"
    if manifest_matches(out_dir, clips):
        log.info("%s: up to date", manifest)
        return manifest
    for voice in sorted({clip.speaker.removeprefix("flite:") for clip in clips}):
        flite_program(voice)  # fail before writing anything without flite
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="tts-heldout-") as tmp:
        raw = Path(tmp) / "raw.wav"
        for clip in clips:
            voice = clip.speaker.removeprefix("flite:")
            duration_s = _render_one(voice, clip.text, out_dir / clip.path, raw, clip.stretch)
            rows.append((*clip.row(), f"{duration_s:.3f}"))
    partial = out_dir / "manifest.tsv.part"
    with partial.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, delimiter="\t", quoting=csv.QUOTE_NONE, lineterminator="\n")
        writer.writerow(MANIFEST_COLUMNS)
        writer.writerows(rows)
    partial.replace(manifest)
    log.info("%s: %d clips rendered", manifest, len(rows))
    return manifest


def build(
    out_dir: Path = DEFAULT_OUT,
    *,
    speech_data: Path = DEFAULT_SPEECH_DATA,
    wordnet: Path = DEFAULT_WORDNET,
    voices: Sequence[str] = VOICES,
) -> Path:
    """The whole set in ``out_dir``: its manifest. Raises ``HeldOutUnavailable`` when flite or
    WordNet is missing or the sentence list is not MODEL_CARD.md's. Other ``voices`` read the
    same sentences: the training voices (``awb``, ``kal16``) make a control set that tells
    what the text costs from what the unseen voices cost."""
    for voice in voices:  # before the 3 s of sentence selection
        flite_program(voice)
    lines = held_out_lines(sentence_list(speech_data, wordnet))
    check_lines(lines)
    return render(lines, out_dir, voices)


def build_digits(out_dir: Path = DEFAULT_DIGITS_OUT) -> Path:
    """The digits set (``digit_clips``) in ``out_dir``: its manifest. Raises
    ``HeldOutUnavailable`` without flite."""
    return render_clips(digit_clips(), out_dir)


def flite_version() -> str:
    """``flite --version``'s version, e.g. ``2.2-current Sep 2018``; "" without it."""
    flite = shutil.which("flite")
    if flite is None:
        return ""
    proc = subprocess.run([flite, "--version"], capture_output=True, text=True, check=False)
    for line in proc.stdout.splitlines():
        if "version:" in line:
            return line.split("version:", 1)[1].split("(")[0].strip().removeprefix("flite-")
    return ""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=None, help="cache folder")
    parser.add_argument(
        "--digits", action="store_true", help="build the digits set (60 clips) instead"
    )
    parser.add_argument(
        "--voices",
        default=",".join(VOICES),
        help="flite voices taking turns on the sentences (default rms,slt, the test; "
        "awb,kal16, voices heard in training, give the control set)",
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_SPEECH_DATA, help="shared speech data")
    parser.add_argument("--wordnet", type=Path, default=DEFAULT_WORDNET)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(name)s: %(message)s")
    voices = tuple(v.strip() for v in args.voices.split(",") if v.strip())
    default_out = (
        DEFAULT_OUT
        if voices == VOICES
        else DEFAULT_OUT.with_name(f"tts-heldout-text-{'-'.join(voices)}")
    )
    try:
        if args.digits:
            manifest = build_digits(args.out or DEFAULT_DIGITS_OUT)
        else:
            manifest = build(
                args.out or default_out, speech_data=args.data, wordnet=args.wordnet, voices=voices
            )
    except HeldOutUnavailable as exc:
        print(f"tts_heldout: {exc}", file=sys.stderr)
        return 2
    print(manifest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
