"""``speechpipe``: transcribe speech, evaluate and train the recognizer.

Each command lives in its own module (``speech_transcribe``, ``speech_train``); this one
only groups them.
"""

from __future__ import annotations

import os

import click
from facespeech.cli.common import configure_logging


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-vv: debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr.")
def cli(verbose: int, quiet: bool) -> None:
    """Offline speech recognition: 16 kHz audio -> spectrogram -> RNN -> CTC decoding.

    \b
    Examples:
      speechpipe transcribe meeting.wav
      speechpipe transcribe --format srt --output-dir subs/ *.flac
      speechpipe evaluate data/manifest.tsv:test
      speechpipe train --train data/manifest.tsv:train --dev data/manifest.tsv:dev --out run1/
    """
    configure_logging(verbose, quiet)


def _register() -> None:
    # Deferred so `speechpipe --help` stays fast (torch is imported by the commands only).
    from facespeech.cli.speech_synth import synth
    from facespeech.cli.speech_train import train
    from facespeech.cli.speech_transcribe import build_lm, evaluate, transcribe

    cli.add_command(transcribe)
    cli.add_command(evaluate)
    cli.add_command(train)
    cli.add_command(build_lm)
    cli.add_command(synth)


def main() -> None:
    # torch's OpenMP threads spin while waiting; on shared or busy cores they steal each
    # other's time slices (2 min of audio: 27.6 s instead of 0.6 s, measured on 2 loaded
    # cores). Must be set before torch is imported, i.e. before the commands are.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    _register()
    cli(prog_name="speechpipe")


if __name__ == "__main__":
    main()
