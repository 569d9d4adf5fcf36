"""The long-file part of benchmarks/speech.py: an hour of clips laid end to end, transcribed by
``speechpipe transcribe`` in a child process whose peak RSS the kernel reports (``wait4``)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

SAMPLE_RATE_HZ = 16_000
GAP_S = 0.5  # silence between clips: a pause the segmenter can cut at
KIB = 1024


def build_long_file(
    clips: Sequence[tuple[Path, str]], duration_s: float, out: Path
) -> tuple[float, str, int]:
    """Write ``clips`` (path, normalized transcript) end to end, cycling through them, until the
    file is at least ``duration_s`` long; 16 kHz mono 16-bit WAV with ``GAP_S`` of silence
    after each clip. Returns (seconds, transcript, clips written).
    """
    if not clips:
        raise ValueError("no clips to build the long file from")
    gap = np.zeros(int(GAP_S * SAMPLE_RATE_HZ), dtype=np.float32)
    written, words = 0, []
    with sf.SoundFile(out, "w", samplerate=SAMPLE_RATE_HZ, channels=1, subtype="PCM_16") as f:
        while written < duration_s * SAMPLE_RATE_HZ:
            for path, transcript in clips:
                samples, rate_hz = sf.read(path, dtype="float32")
                if rate_hz != SAMPLE_RATE_HZ or samples.ndim != 1:
                    raise ValueError(f"{path}: expected 16 kHz mono")
                f.write(samples)
                f.write(gap)
                written += len(samples) + len(gap)
                words.append(transcript)
                if written >= duration_s * SAMPLE_RATE_HZ:
                    break
    return written / SAMPLE_RATE_HZ, " ".join(words), len(words)


def speechpipe_command() -> list[str]:
    """The installed entry point beside this interpreter, or the same through ``-c``."""
    entry = Path(sys.executable).with_name("speechpipe")
    if entry.exists():
        return [str(entry)]
    return [sys.executable, "-c", "from facespeech.cli.speechpipe import main; main()"]


def repo_relative(part: str) -> str:
    """A command-line part, relative to the repository when it is a path inside it."""
    repo = Path(__file__).resolve().parent.parent
    path = Path(part)
    if path.is_absolute() and path.is_relative_to(repo):
        return str(path.relative_to(repo))
    return part


def transcribe_long(
    path: Path, extra_args: Sequence[str], env: dict[str, str], work_dir: Path
) -> dict[str, Any]:
    """Run ``speechpipe transcribe [extra_args] path``: exit code, wall and CPU time, peak RSS,
    text.

    The wall time includes interpreter start-up and model loading (a few seconds, small
    against an hour of audio). The peak RSS is the child's (with any children it waited for),
    from ``wait4``; the benchmark's own memory is not in it.
    """
    command = [*speechpipe_command(), "transcribe", *extra_args, str(path)]
    out_path, err_path = work_dir / "long.stdout", work_dir / "long.stderr"
    start = time.perf_counter()
    with out_path.open("w") as out, err_path.open("w") as err:
        proc = subprocess.Popen(command, stdout=out, stderr=err, env=env)
        # Reap the child ourselves: Popen.wait() would discard the rusage that wait4 returns.
        _, status, usage = os.wait4(proc.pid, 0)
    wall_s = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return {
        "command": [repo_relative(part) for part in command],
        "exit_code": proc.returncode,
        "stderr_tail": err_path.read_text()[-2000:],
        "wall_s": wall_s,
        "peak_rss_mib": usage.ru_maxrss / KIB,  # Linux reports ru_maxrss in KiB
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "text": out_path.read_text(),
    }
