"""The recognizer's output labels: CTC blank, space, apostrophe, a-z."""

from __future__ import annotations

BLANK = "_"
SPACE = " "
LABELS: tuple[str, ...] = (BLANK, SPACE, "'", *"abcdefghijklmnopqrstuvwxyz")
BLANK_INDEX = 0
SPACE_INDEX = 1
INDEX = {label: i for i, label in enumerate(LABELS)}
