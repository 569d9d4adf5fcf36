"""Synthetic training speech: English sentences rendered by TTS voices to 16 kHz mono WAV.

``select_sentences`` picks training text (``lm_text`` sources: WordNet, plain text, ``:train``
manifest rows), keeps sentences of 3-15 words and drops every sentence that is a dev or test
transcript. ``synthesize`` renders them with espeak-ng (its English accents and voice variants),
flite's voices kal, kal16 and awb, festival's kal_diphone and ked_diphone (families
``festival-kal``, ``festival-ked``) and, when asked for, SVOX Pico's en-US and en-GB women's
voices (``pico-us``, ``pico-gb``: ``pico2wave``) and espeak-ng in a simulated Mandarin-L1
accent (``espeak-accent``: ``speech_accent``), drawing voice, rate, pitch, volume and vocal
tract length per sentence from a seeded ``numpy.random.Generator``, and writes
``audio/NNN/NNNNNN.wav`` plus ``manifest.tsv`` (``path, transcript, speaker, split=train,
duration``) for ``speechpipe train``.

flite's rms and slt (and festival's us-slt-hts) are held out of training entirely: they are the
unseen-voice test of issue 10, so asking for them raises ``ValueError``.

The TTS programs come from ``PATH``, or from a prefix holding ``bin/``, ``lib/``,
``espeak-ng-data/`` and ``share/festival/`` (Debian's packages unpacked with ``dpkg -x``; see the
model card).

    python -m facespeech.pipelines.speech_synth sentences OUT.txt \
        --source SPEC... --exclude MANIFEST...
"""

from __future__ import annotations

import argparse
import csv
import logging
import os
import random
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
from facespeech.pipelines.speech_accent import accented_phoneme_input, draw_accent
from facespeech.stages.speech.audio import SAMPLE_RATE
from facespeech.stages.speech.text import ONES, normalize_transcript

log = logging.getLogger(__name__)

MIN_WORDS = 3
MAX_WORDS = 15
FLITE_VOICES = ("kal", "kal16", "awb")
FESTIVAL_VOICES = {"festival-kal": "kal_diphone", "festival-ked": "ked_diphone"}  # family -> voice
# SVOX Pico's two English voices, both women's (Apache-2.0, from Android; ``pico2wave`` from
# Debian's non-free libttspico-utils, or the one recipes/make_pico_bundle.sh compiles from
# PyPI's ttspico sources): family -> language.
PICO_VOICES = {"pico-us": "en-US", "pico-gb": "en-GB"}
HELD_OUT_VOICES = frozenset({"rms", "slt", "us-slt-hts"})  # the unseen-voice test set
# The families of the shipped model's synthetic speech (stages 3-7): the default, so that their
# recipes render the same clips on a machine that also has pico2wave.
DEFAULT_VOICES = ("espeak", *FLITE_VOICES, *FESTIVAL_VOICES)
ACCENT_VOICE = "espeak-accent"  # espeak-ng's phonemes rewritten (speech_accent), then spoken
ALL_VOICES = (*DEFAULT_VOICES, *PICO_VOICES, ACCENT_VOICE)
ESPEAK_LANGUAGES = (
    "en-us",
    "en-us-nyc",
    "en-gb",
    "en-gb-scotland",
    "en-gb-x-rp",
    "en-gb-x-gbclan",
    "en-gb-x-gbcwmd",
    "en-029",
)
# espeak-ng's variants (espeak-ng-data/voices/!v); "" is the language's own voice. The robotic
# and whispered ones (robosoft*, whisper*) are left out: nobody speaks like that to a recognizer.
ESPEAK_VARIANTS = (
    "", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "f1", "f2", "f3", "f4", "f5",
    "klatt", "klatt2", "klatt3", "klatt4", "klatt5", "klatt6", "croak", "Alex", "Andy",
    "Annie", "adam", "anika", "aunty", "belinda", "benjamin", "caleb", "david", "edward",
    "grandma", "grandpa", "john", "linda", "max", "michel", "norbert", "paul", "quincy", "rob",
    "robert", "shelby", "steph", "travis", "victor", "zac",
)  # fmt: skip
ESPEAK_RATE_WPM = (130, 200)  # -s: words per minute (espeak's default 175)
ESPEAK_PITCH = (25, 75)  # -p: 0-99 (default 50)
ESPEAK_AMPLITUDE = (60, 160)  # -a: 0-200 (default 100)
FLITE_STRETCH = (0.85, 1.2)  # duration_stretch: > 1 speaks slower
# Heard F0 (after the vocal tract scaling below): the flite and festival voices are all male
# (95-110 Hz of their own); up to 210 Hz, with formants raised alike, they stand in for women's
# and children's voices, which no usable voice here has (slt is held out).
FLITE_F0_HZ = (85.0, 210.0)  # int_f0_target_mean
FESTIVAL_F0_HZ = (90.0, 210.0)  # int_lr_params target_f0_mean (kal_diphone's own is 105)
FESTIVAL_STRETCH = (0.85, 1.2)  # Duration_Stretch: > 1 slower (kal_diphone's own is 1.1)
# Vocal tract scale: a clip is rendered slower and lower by this factor, then played back that
# much faster (resampled), which multiplies formants and F0 by it and keeps the tempo drawn.
# Drawn higher for higher voices (a shorter tract goes with a higher pitch); espeak's variants
# already span sexes and ages, so its range is narrower and independent of pitch.
TRACT_SCALE_LOW_VOICE = (0.92, 1.06)  # at the lowest F0 drawn
TRACT_SCALE_RISE = 0.16  # added at the highest F0 drawn
ESPEAK_TRACT_SCALE = (0.94, 1.1)
# Pico's markup levels, percent of the voice's own: <speed level> (> 100 faster) and
# <pitch level>. Its voices are women's, so the tract scale also goes below 1 (played slower:
# lower formants and F0, towards men's voices).
PICO_SPEED = (80, 125)
PICO_PITCH = (80, 125)
PICO_TRACT_SCALE = (0.84, 1.08)
# espeak-accent: the phonemes are always en-us's (the rules are written for its mnemonics);
# the voice that speaks them is one of these, slower than espeak's default as learners read.
ACCENT_PHONEMES_VOICE = "en-us"
ACCENT_LANGUAGES = ("en-us", "en-gb", "en")
ACCENT_VARIANTS = (
    "", "m1", "m2", "m3", "m4", "m5", "f1", "f2", "f3", "f4", "f5", "klatt", "klatt2",
)  # fmt: skip
ACCENT_RATE_WPM = (110, 165)
ACCENT_PITCH = (25, 80)
TTS_TIMEOUT_S = 60.0
CHUNK_SIZE = 64  # sentences per worker task: amortises process hand-over
MANIFEST_COLUMNS = ("path", "transcript", "speaker", "split", "duration")


def select_sentences(
    sources: Iterable[str],
    exclude_manifests: Iterable[str | Path] = (),
    *,
    min_words: int = MIN_WORDS,
    max_words: int = MAX_WORDS,
) -> list[str]:
    """Normalised, de-duplicated sentences of ``min_words``-``max_words`` words from ``lm_text``
    sources, minus every transcript of the dev and test rows of ``exclude_manifests``."""
    from facespeech.pipelines.lm_text import read_lm_text
    from facespeech.pipelines.manifest import read_manifest

    if not 1 <= min_words <= max_words:
        raise ValueError(f"need 1 <= min_words <= max_words, got {min_words}, {max_words}")
    held_out = {
        normalize_transcript(row.transcript)
        for spec in exclude_manifests
        for row in read_manifest(str(spec))
        if row.split in ("dev", "test")
    }
    seen: set[str] = set()
    sentences = []
    for source in sources:
        for words in read_lm_text(source):
            sentence = " ".join(words)
            if (
                min_words <= len(words) <= max_words
                and sentence not in held_out
                and sentence not in seen
            ):
                seen.add(sentence)
                sentences.append(sentence)
    return sentences


def _scheme_string(value: object) -> str:
    """``value`` as a Scheme string literal, for festival's command-line expressions."""
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True, slots=True)
class TtsPrograms:
    """Where the TTS programs are: ``prefix`` (``bin/``, ``lib/``, ``espeak-ng-data/``,
    ``share/festival/``) or ``PATH`` when ``None``."""

    prefix: Path | None = None

    def program(self, name: str) -> str | None:
        return shutil.which(name, path=str(self.prefix / "bin") if self.prefix else None)

    def _espeak(self) -> list[str]:
        espeak = self.program("espeak-ng")
        assert espeak is not None
        return [espeak, *(["--path", str(self.prefix)] if self.prefix else [])]

    def phonemes(self, text: str) -> str:
        """espeak-ng's en-us phonemes of ``text`` (``-x --sep=_``: mnemonics joined by ``_``
        within a word, words separated by spaces). Raises ``subprocess.SubprocessError``."""
        done = subprocess.run(
            [*self._espeak(), "-q", "-x", "--sep=_", "-v", ACCENT_PHONEMES_VOICE, "--", text],
            env=self.env(), capture_output=True, check=True, text=True, timeout=TTS_TIMEOUT_S,
        )  # fmt: skip
        return done.stdout

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.prefix is not None:
            env["LD_LIBRARY_PATH"] = os.pathsep.join(
                [str(self.prefix / "lib"), env.get("LD_LIBRARY_PATH", "")]
            )
        return env

    def _festival(self, name: str) -> list[str]:
        """festival in batch mode with voice ``name`` selected (Scheme expressions as arguments)."""
        festival = self.program("festival")
        assert festival is not None
        if self.prefix is None:
            return [festival, "-b", f"(voice_{name})"]
        # -q and our own init.scm: festival otherwise also scans /usr/share/festival for voices
        # and languages, and a voice found there would win over the prefix's.
        return [
            festival, "--datadir", str(self.prefix / "share" / "festival"), "-q", "-b",
            "(define system-voice-path nil)", "(define system-language-path nil)",
            '(load (path-append datadir "init.scm"))', f"(voice_{name})",
        ]  # fmt: skip

    def command(self, voice: str, text: str, wav: Path, settings: dict[str, float]) -> list[str]:
        """The command line rendering ``text`` to ``wav`` with ``voice`` and ``settings``."""
        # Rendered slower and lower by the tract scale: _render_chunk plays it back faster.
        tract = settings.get("tract", 1.0)
        if voice.startswith("festival:"):
            # Selecting the voice sets Duration_Stretch and int_lr_params, so these follow it;
            # a target_f0_mean consed in front wins the lookup and keeps the voice's own F0
            # deviation and model statistics.
            utterance = f"(utt.synth (Utterance Text {_scheme_string(text)}))"
            f0 = settings["f0"] / tract
            return [
                *self._festival(voice.removeprefix("festival:")),
                f"(Parameter.set 'Duration_Stretch {settings['stretch'] * tract:.3f})",
                f"(set! int_lr_params (cons '(target_f0_mean {f0:.1f}) int_lr_params))",
                f"(utt.save.wave {utterance} {_scheme_string(wav)} 'riff)",
            ]
        if voice.startswith("pico:"):
            pico = self.program("pico2wave")
            assert pico is not None
            speed = round(settings["speed"] / tract)
            pitch = round(settings["pitch"] / tract)
            marked = f"<speed level='{speed}'><pitch level='{pitch}'>{text}</pitch></speed>"
            return [pico, "-w", str(wav), "-l", voice.removeprefix("pico:"), marked]
        if _family(voice) in ("espeak", ACCENT_VOICE):  # espeak-accent: text is phoneme input
            return [
                *self._espeak(), "-v", voice.split(":", 1)[1],
                "-s", str(round(settings["rate"] / tract)), "-p", str(int(settings["pitch"])),
                "-a", str(int(settings["amplitude"])), "-w", str(wav), "--", text,
            ]  # fmt: skip
        name = voice.removeprefix("flite:")
        own = self.program(f"flite_cmu_us_{name}")
        program = [own] if own else [str(self.program("flite")), "-voice", name]
        return [
            *program,
            "--setf", f"duration_stretch={settings['stretch'] * tract:.3f}",
            "--setf", f"int_f0_target_mean={settings['f0'] / tract:.1f}",
            "-t", text, "-o", str(wav),
        ]  # fmt: skip

    def available(self, voices: Sequence[str]) -> list[str]:
        """The requested voice families (``espeak``, ``kal``, ...) whose programs exist; for
        festival's, festival is run once to check that the voice is installed too."""
        found = []
        for voice in voices:
            if voice in FESTIVAL_VOICES:
                usable = self.program("festival") is not None and self._festival_works(voice)
            elif voice in ("espeak", ACCENT_VOICE):
                usable = self.program("espeak-ng") is not None
            elif voice in PICO_VOICES:
                usable = self.program("pico2wave") is not None
            else:
                usable = bool(self.program(f"flite_cmu_us_{voice}") or self.program("flite"))
            if usable:
                found.append(voice)
            else:
                log.warning("%s: no TTS program or voice for it, skipped", voice)
        return found

    def _festival_works(self, family: str) -> bool:
        command = self._festival(FESTIVAL_VOICES[family])
        try:
            done = subprocess.run(
                command, env=self.env(), capture_output=True, timeout=TTS_TIMEOUT_S
            )
        except (OSError, subprocess.SubprocessError):
            return False
        return done.returncode == 0


@dataclass(frozen=True, slots=True)
class _Job:
    index: int
    text: str
    voice: str  # "espeak:en-us+m3", "flite:awb", "festival:kal_diphone": the manifest's speaker
    settings: dict[str, float]


@dataclass(frozen=True, slots=True)
class _Rendered:
    index: int
    voice: str
    text: str
    duration_s: float
    error: str | None = None


@dataclass(frozen=True, slots=True)
class SynthResult:
    """What ``synthesize`` wrote: ``manifest`` and per voice family the clips and seconds."""

    manifest: Path
    seconds_per_voice: dict[str, float] = field(default_factory=dict)
    clips_per_voice: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)  # "<sentence index>: <reason>"


def check_voices(voices: Sequence[str]) -> None:
    """Raise ``ValueError`` for held-out or unknown voice families."""
    for voice in voices:
        if voice in HELD_OUT_VOICES:
            raise ValueError(f"voice {voice!r} is held out of training (unseen-voice test)")
        if voice not in ALL_VOICES:
            raise ValueError(f"unknown voice {voice!r}; choose from {', '.join(ALL_VOICES)}")


def _pitch_and_tract(rng: np.random.Generator, f0_range: tuple[float, float]) -> dict[str, float]:
    """A heard F0 (Hz) and a vocal tract scale that rises with it."""
    low, high = f0_range
    f0 = rng.uniform(low, high)
    tract = rng.uniform(*TRACT_SCALE_LOW_VOICE) + TRACT_SCALE_RISE * (f0 - low) / (high - low)
    return {"f0": f0, "tract": tract}


def _espeak_voice(
    rng: np.random.Generator, family: str, languages: Sequence[str], variants: Sequence[str]
) -> str:
    """A drawn espeak-ng voice as a speaker label: ``family:language[+variant]``."""
    language = languages[int(rng.integers(len(languages)))]
    variant = variants[int(rng.integers(len(variants)))]
    return f"{family}:{language}" + (f"+{variant}" if variant else "")


def plan_jobs(sentences: Sequence[str], voices: Sequence[str], seed: int) -> list[_Job]:
    """One voice configuration per sentence, drawn from a generator seeded with ``seed``."""
    rng = np.random.default_rng(seed)
    jobs = []
    for index, text in enumerate(sentences):
        family = str(voices[int(rng.integers(len(voices)))])
        if family == "espeak":
            voice = _espeak_voice(rng, "espeak", ESPEAK_LANGUAGES, ESPEAK_VARIANTS)
            settings = {
                "rate": float(rng.integers(*ESPEAK_RATE_WPM, endpoint=True)),
                "pitch": float(rng.integers(*ESPEAK_PITCH, endpoint=True)),
                "amplitude": float(rng.integers(*ESPEAK_AMPLITUDE, endpoint=True)),
                "tract": rng.uniform(*ESPEAK_TRACT_SCALE),
            }
        elif family == ACCENT_VOICE:
            voice = _espeak_voice(rng, ACCENT_VOICE, ACCENT_LANGUAGES, ACCENT_VARIANTS)
            settings = {
                "rate": float(rng.integers(*ACCENT_RATE_WPM, endpoint=True)),
                "pitch": float(rng.integers(*ACCENT_PITCH, endpoint=True)),
                "amplitude": 100.0,  # espeak-ng's own
                "accent_seed": float(rng.integers(2**31)),
                **draw_accent(rng),
            }
        elif family in PICO_VOICES:
            voice = f"pico:{PICO_VOICES[family]}"
            settings = {
                "speed": float(rng.integers(*PICO_SPEED, endpoint=True)),
                "pitch": float(rng.integers(*PICO_PITCH, endpoint=True)),
                "tract": rng.uniform(*PICO_TRACT_SCALE),
            }
        elif family in FESTIVAL_VOICES:
            voice = f"festival:{FESTIVAL_VOICES[family]}"
            settings = {
                "stretch": rng.uniform(*FESTIVAL_STRETCH),
                **_pitch_and_tract(rng, FESTIVAL_F0_HZ),
            }
        else:
            voice = f"flite:{family}"
            settings = {
                "stretch": rng.uniform(*FLITE_STRETCH),
                **_pitch_and_tract(rng, FLITE_F0_HZ),
            }
        jobs.append(_Job(index, text, voice, settings))
    return jobs


def spoken_text(programs: TtsPrograms, job: _Job) -> str:
    """What the TTS program is given for ``job``: its text, or for ``espeak-accent`` the
    text's phonemes rewritten by the job's accent (reproducible from its ``accent_seed``)."""
    if not job.voice.startswith(f"{ACCENT_VOICE}:"):
        return job.text
    rng = np.random.default_rng(int(job.settings["accent_seed"]))
    return accented_phoneme_input(programs.phonemes(job.text), job.settings, rng)


def _family(voice: str) -> str:
    """The voice family of a manifest speaker label (``espeak:en-gb+m3`` -> ``espeak``)."""
    for family in ("espeak", ACCENT_VOICE):
        if voice.startswith(f"{family}:"):
            return family
    return voice


def _relative_path(index: int) -> str:
    return f"audio/{index // 1000:03d}/{index:06d}.wav"


def _render_chunk(args: tuple[TtsPrograms, Path, list[_Job]]) -> list[_Rendered]:
    programs, out_dir, jobs = args
    env = programs.env()
    rows: list[_Rendered] = []
    with tempfile.TemporaryDirectory(prefix="synth-") as tmp:
        raw = Path(tmp) / "raw.wav"
        for job in jobs:
            try:
                subprocess.run(
                    programs.command(job.voice, spoken_text(programs, job), raw, job.settings),
                    env=env, capture_output=True, check=True, timeout=TTS_TIMEOUT_S,
                )  # fmt: skip
                samples, rate = sf.read(raw, dtype="float32", always_2d=True)
            except (OSError, subprocess.SubprocessError, sf.LibsndfileError) as exc:
                rows.append(_Rendered(job.index, job.voice, job.text, 0.0, str(exc)))
                continue
            mono = samples.mean(axis=1)
            # Read at tract x its rate, the clip plays faster: formants and F0 scale up.
            played_rate = rate * job.settings.get("tract", 1.0)
            if played_rate != SAMPLE_RATE:
                mono = soxr.resample(mono, played_rate, SAMPLE_RATE).astype(np.float32)
            if mono.size == 0 or not np.any(mono):
                rows.append(_Rendered(job.index, job.voice, job.text, 0.0, "no audio"))
                continue
            target = out_dir / _relative_path(job.index)
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_suffix(".part.wav")
            sf.write(partial, np.clip(mono, -1.0, 1.0), SAMPLE_RATE, subtype="PCM_16")
            partial.replace(target)
            rows.append(_Rendered(job.index, job.voice, job.text, mono.size / SAMPLE_RATE))
    return rows


def synthesize(
    sentences: Sequence[str],
    out_dir: Path,
    *,
    voices: Sequence[str] = DEFAULT_VOICES,
    programs: TtsPrograms | None = None,
    seed: int = 0,
    jobs: int = 1,
) -> SynthResult:
    """Render ``sentences`` (normalised text) into ``out_dir``; a sentence that fails is
    recorded in ``failures`` and the rest go on. Raises ``ValueError`` for held-out or unknown
    voices and ``FileNotFoundError`` when no requested voice has a program."""
    check_voices(voices)
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    programs = programs or TtsPrograms()
    usable = programs.available(voices)
    if not usable:
        raise FileNotFoundError(f"no TTS program for any of {', '.join(voices)}")
    planned = plan_jobs(sentences, usable, seed)
    chunks = [planned[i : i + CHUNK_SIZE] for i in range(0, len(planned), CHUNK_SIZE)]
    out_dir.mkdir(parents=True, exist_ok=True)
    result = SynthResult(manifest=out_dir / "manifest.tsv")
    tmp_manifest = out_dir / "manifest.tsv.part"
    with ProcessPoolExecutor(jobs) as pool, tmp_manifest.open("w", newline="") as f:
        writer = csv.writer(f, delimiter="\t", quoting=csv.QUOTE_NONE, lineterminator="\n")
        writer.writerow(MANIFEST_COLUMNS)
        for rows in pool.map(_render_chunk, [(programs, out_dir, c) for c in chunks]):
            for row in rows:
                if row.error is not None:
                    result.failures.append(f"{row.index}: {row.voice}: {row.error}")
                    continue
                path = _relative_path(row.index)
                writer.writerow((path, row.text, row.voice, "train", f"{row.duration_s:.3f}"))
                family = _family(row.voice)
                seconds = result.seconds_per_voice.get(family, 0.0) + row.duration_s
                result.seconds_per_voice[family] = seconds
                result.clips_per_voice[family] = result.clips_per_voice.get(family, 0) + 1
    tmp_manifest.replace(result.manifest)
    clips = sum(result.clips_per_voice.values())
    log.info("%d clips in %s, %d failed", clips, out_dir, len(result.failures))
    return result


DIGIT_WORDS = ONES[:10]  # "zero" ... "nine"


def digit_lines(
    seed: int, each_word: int = 100, strings: int = 600, length: tuple[int, int] = (2, 8)
) -> list[str]:
    """Text for synthetic digits: every digit word ``each_word`` times alone, then ``strings``
    strings of ``length`` (inclusive) digit words drawn by ``random.Random(seed)``; the recipe
    of the synthetic digits in ``stages/speech/models/MODEL_CARD.md`` (stage 6 on)."""
    rng = random.Random(seed)
    lines = [word for word in DIGIT_WORDS for _ in range(each_word)]
    for _ in range(strings):
        lines.append(" ".join(rng.choice(DIGIT_WORDS) for _ in range(rng.randint(*length))))
    return lines


def _write_lines(out: Path, lines: Sequence[str]) -> None:
    partial = out.with_suffix(".part")
    partial.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    partial.replace(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m facespeech.pipelines.speech_synth")
    commands = parser.add_subparsers(dest="command", required=True)
    pick = commands.add_parser("sentences", help="write training sentences, one per line")
    pick.add_argument("out", type=Path)
    pick.add_argument("--source", action="append", required=True, help="lm_text spec")
    pick.add_argument("--exclude", action="append", default=[], help="manifest (dev/test rows)")
    pick.add_argument("--seed", type=int, default=0, help="shuffles the sentences")
    digits = commands.add_parser("digits", help="write digit-word lines, one per line")
    digits.add_argument("out", type=Path)
    digits.add_argument("--seed", type=int, default=0, help="draws the digit strings")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(name)s: %(message)s")
    if args.command == "digits":
        lines = digit_lines(args.seed)
        _write_lines(args.out, lines)
        log.info("%d digit lines in %s", len(lines), args.out)
        return 0
    sentences = select_sentences(args.source, args.exclude)
    # Shuffled so that `synth --max-sentences N` takes a sample of every source, not the first.
    order = np.random.default_rng(args.seed).permutation(len(sentences))
    sentences = [sentences[i] for i in order]
    _write_lines(args.out, sentences)
    log.info("%d sentences in %s", len(sentences), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
