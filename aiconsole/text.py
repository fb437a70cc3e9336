"""The one cleaning step for text that other people control.

Host names, command lines, Slurm job names and reasons, Kubernetes object names, config
values, SSH disconnect messages: all of it is decoded somewhere and then shown in a terminal.
A raw ESC, OSC or C1 byte would drive that terminal (OSC 52 writes the operator's clipboard),
a bidi override would make ``rm`` read as ``mr``, and a megabyte of text would cost memory in
every snapshot that keeps it. :func:`clean` turns every such string into plain, printable,
bounded text once, where it enters; screens then render it as text, never as markup.

Control characters are shown, not dropped (``\\x1b`` becomes ``␛`` style pictures), so an
operator can still see that a host sent something odd. Headless: no Textual, no Rich.
"""

from __future__ import annotations

import re

MAX_TEXT = 4096
"""Default bound for one string from outside (a command line, a reason, a job name)."""

ELLIPSIS = "…"

# C0 controls (but not TAB, handled below), DEL, and the C1 range. Each is shown as the
# Unicode "control picture" for C0/DEL, or as an escape like \x9b for C1.
_CONTROLS = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f]")
# Bidi embeddings, overrides and isolates, and the invisible marks that steer them: removed,
# since shown or not they reorder the text around them.
_BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _picture(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    if code < 0x20:
        return chr(0x2400 + code)  # ␀ .. ␟
    if code == 0x7F:
        return "\u2421"  # ␡
    return f"\\x{code:02x}"


def clean(value: str, limit: int = MAX_TEXT) -> str:
    """Printable, single-line, bidi-free text of at most ``limit`` characters.

    Tabs become spaces; other controls become visible pictures; bidi controls are removed;
    text over the limit is cut and ends in an ellipsis, so a cut is visible.
    """
    if len(value) > limit * 4:
        value = value[: limit * 4]  # bound the work before the regexes run
    value = value.replace("\t", " ")
    if _BIDI.search(value):
        value = _BIDI.sub("", value)
    if _CONTROLS.search(value):
        value = _CONTROLS.sub(_picture, value)
    if len(value) > limit:
        value = value[: max(limit - 1, 0)] + ELLIPSIS
    return value


def is_clean(value: str) -> bool:
    """True if ``value`` has no control or bidi character (tabs included)."""
    return "\t" not in value and not _CONTROLS.search(value) and not _BIDI.search(value)
