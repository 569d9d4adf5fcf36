"""``speechpipe synth``: render English sentences with TTS voices into a training manifest."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from facespeech.cli.common import EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE


@click.command()
@click.argument("textfile", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder for audio/ and manifest.tsv (a cache: made again by this command).",
)
@click.option(
    "--voices",
    default="espeak,kal,kal16,awb,festival-kal,festival-ked",
    show_default=True,
    help="Voice families, comma-separated: espeak, kal, kal16, awb, festival-kal, festival-ked, "
    "pico-us, pico-gb (pico2wave; see recipes/make_pico_bundle.sh), espeak-accent (espeak-ng "
    "with a simulated Mandarin-L1 accent). rms, slt and us-slt-hts are held out of training.",
)
@click.option("--max-sentences", type=click.IntRange(min=1), help="Use only the first N lines.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--jobs", type=click.IntRange(min=1), default=1, show_default=True)
@click.option(
    "--tts-prefix",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    envvar="FACESPEECH_TTS_PREFIX",
    help="Folder with bin/, lib/, espeak-ng-data/, share/festival/ of unpacked TTS packages "
    "(default: PATH).",
)
def synth(
    textfile: Path,
    out: Path,
    voices: str,
    max_sentences: int | None,
    seed: int,
    jobs: int,
    tts_prefix: Path | None,
) -> None:
    """Render TEXTFILE (one sentence per line) to 16 kHz mono WAV clips and OUT/manifest.tsv.

    Each sentence gets a voice family and its own rate, pitch, volume and vocal tract length
    (formants scaled 0.92-1.22 by resampling, the tempo kept), drawn from --seed: the male
    flite and festival voices also speak as higher, shorter-tract voices.

    \b
    Example:
      speechpipe synth sentences.txt --out ~/.cache/facespeech/synth --jobs 8
    """
    from facespeech.pipelines.speech_synth import TtsPrograms, synthesize
    from facespeech.stages.speech.text import normalize_transcript

    with textfile.open(encoding="utf-8") as lines:
        sentences = [s for s in (normalize_transcript(line) for line in lines) if s]
    sentences = sentences[:max_sentences] if max_sentences else sentences
    try:
        result = synthesize(
            sentences,
            out,
            voices=[v.strip() for v in voices.split(",") if v.strip()],
            programs=TtsPrograms(tts_prefix),
            seed=seed,
            jobs=jobs,
        )
    except (ValueError, FileNotFoundError) as exc:
        click.echo(f"speechpipe: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    for failure in result.failures:
        click.echo(f"speechpipe: sentence {failure}", err=True)
    for voice, seconds in sorted(result.seconds_per_voice.items()):
        click.echo(f"{voice}\t{result.clips_per_voice[voice]} clips\t{seconds / 3600:.2f} h")
    click.echo(f"manifest\t{result.manifest}")
    sys.exit(EXIT_SOME_FAILED if result.failures else EXIT_OK)


if __name__ == "__main__":
    synth(prog_name="speech_synth")
