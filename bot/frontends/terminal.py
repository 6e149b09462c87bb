"""Plain text as a terminal shows it: the words the renderer marks ``**…**`` in bold and
lines wrapped at word boundaries to the terminal's width; for a pipe or a file, the text
without the marks."""

from __future__ import annotations

import re
import shutil
import unicodedata
from typing import TextIO

BOLD, NORMAL = "\x1b[1m", "\x1b[22m"
_MARK = re.compile(r"\*\*(.+?)\*\*", re.S)
# '[004] ', '» ', '1. ' at a line's start: its continuation lines go under the text after it
_HANGING = re.compile(r"(?:\[[^\]\s]{1,16}\]|»|\d{1,3}\.) ")


def terminal_width(stream: TextIO) -> int | None:
    """The width of the terminal ``stream`` writes to, or None when it is not a terminal."""
    try:
        if not stream.isatty():
            return None
    except (AttributeError, ValueError):
        return None
    return max(20, shutil.get_terminal_size().columns)


def for_terminal(text: str, width: int | None) -> str:
    """``text`` for a terminal of ``width`` columns (bold, wrapped), or without marks (None)."""
    if width is None:
        return _MARK.sub(r"\1", text)
    return "\n".join(_wrap(line, width) for line in text.split("\n"))


def _cells(char: str) -> int:
    """Columns a character takes: 2 for wide (CJK, emoji), 0 for combining marks, else 1."""
    if unicodedata.combining(char):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def _styled(line: str) -> list[tuple[str, bool]]:
    """The characters of ``line`` with whether each is bold."""
    out: list[tuple[str, bool]] = []
    last = 0
    for match in _MARK.finditer(line):
        out.extend((c, False) for c in line[last : match.start()])
        out.extend((c, True) for c in match.group(1))
        last = match.end()
    out.extend((c, False) for c in line[last:])
    return out


def _show(chars: list[tuple[str, bool]]) -> str:
    """Characters with ANSI bold around the bold runs."""
    out, bold = [], False
    for char, strong in chars:
        if strong != bold:
            out.append(BOLD if strong else NORMAL)
            bold = strong
        out.append(char)
    if bold:
        out.append(NORMAL)
    return "".join(out)


def _wrap(line: str, width: int) -> str:
    """One line broken between words (never inside one) into lines of at most ``width``
    columns; continuation lines keep the line's indent, and go under the text after a
    leading '[id] ', '» ' or '1. '. A word wider than that stays whole."""
    chars = _styled(line)
    indent = len(line) - len(line.lstrip(" "))
    hanging = _HANGING.match("".join(c for c, _ in chars[indent:]))
    follow = indent + (len(hanging.group()) if hanging and len(hanging.group()) < width // 2 else 0)
    words: list[list[tuple[str, bool]]] = [[]]
    for char, strong in chars[indent:]:
        if char == " ":
            if words[-1]:
                words.append([])
        else:
            words[-1].append((char, strong))
    words = [w for w in words if w]
    lines: list[str] = []
    current: list[tuple[str, bool]] = []
    used = indent
    for word in words:
        size = sum(_cells(c) for c, _ in word)
        if current and used + 1 + size > width:
            lines.append(" " * (follow if lines else indent) + _show(current))
            current, used = [], follow
        if current:
            current.append((" ", current[-1][1] and word[0][1]))
            used += 1
        current.extend(word)
        used += size
    lines.append(" " * (follow if lines else indent) + _show(current))
    return "\n".join(lines)
