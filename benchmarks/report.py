"""Writes one benchmark's section of ``benchmarks/RESULTS.md`` and its JSON, leaving the
other sections as they are (face, embedding and speech benchmarks each own a section)."""

from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_MD = BENCH_DIR / "RESULTS.md"
RESULTS_JSON_DIR = BENCH_DIR / "results"
HEADER = (
    "# Benchmark results\n\nEach section is written by the script it names, with the command.\n"
)


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
    }


def update_section(name: str, markdown: str, data: dict[str, Any]) -> None:
    """Replace the ``name`` section of RESULTS.md and write ``results/<name>.json``."""
    RESULTS_JSON_DIR.mkdir(exist_ok=True)
    (RESULTS_JSON_DIR / f"{name}.json").write_text(json.dumps(data, indent=2) + "\n")
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    text = RESULTS_MD.read_text() if RESULTS_MD.exists() else HEADER
    block = f"{start}\n{markdown.strip()}\n{end}"
    if start in text and end in text:
        before, rest = text.split(start, 1)
        _, after = rest.split(end, 1)
        text = before + block + after
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    tmp = RESULTS_MD.with_suffix(".md.tmp")
    tmp.write_text(text)
    tmp.replace(RESULTS_MD)
