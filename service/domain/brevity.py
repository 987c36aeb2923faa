"""Making text shorter without breaking a value: lines cut at whitespace, lists by whole items.

Purpose: a message is bounded (a line, a field, a medium), but a run id, an image digest or a
URL cut in the middle is worse than none: on-call copies it. So a long line loses words from
its middle (the start says what, the end usually says why: ``...: MANIFEST_UNKNOWN``), cut at
whitespace; a list loses whole items and says how many (``a, b and 7 more``).
Boundary: pure string work, shared by the composition (``service.domain``) and the sinks.
"""

from __future__ import annotations

from collections.abc import Sequence

ELLIPSIS = "…"


def head(text: str, limit: int) -> str:
    """``text`` within ``limit`` characters, cut at the last whitespace that fits, with ``…``.
    A text with no whitespace to cut at (one value longer than the limit) is cut hard."""
    if len(text) <= limit:
        return text
    cut = text[: max(0, limit - 2)]
    space = cut.rfind(" ")
    return (cut[:space] if space > 0 else cut).rstrip() + " " + ELLIPSIS


def abridge(text: str, limit: int) -> str:
    """``text`` within ``limit`` characters: its start and its end, the middle replaced by
    `` … ``, both cut at whitespace so no value is split. One value longer than the limit is
    cut hard (nothing else would fit)."""
    if len(text) <= limit:
        return text
    body = text.lstrip(" ")
    indent = text[: len(text) - len(body)]
    if indent and len(indent) < limit // 2:  # an indented line stays indented
        return indent + abridge(body, limit - len(indent))
    words = text.split(" ")
    room = limit - 3  # " … "
    first = _fill(words, room * 3 // 5)
    last = _fill(words[first:][::-1], room - _size(words[:first]))
    first = _fill(words[: len(words) - last], room - _size(words[len(words) - last:]))
    if not first and not last:
        return text[: max(0, limit - 1)] + ELLIPSIS
    return " ".join([*words[:first], ELLIPSIS, *words[len(words) - last:]]).strip()


def _size(words: Sequence[str]) -> int:
    return sum(len(w) for w in words) + max(0, len(words) - 1)


def _fill(words: Sequence[str], room: int) -> int:
    """How many of ``words``, from the first, fit ``room`` characters joined by spaces."""
    size = -1
    for count, word in enumerate(words):
        size += len(word) + 1
        if size > room:
            return count
    return len(words)


def capped(items: Sequence[str], limit: int, max_chars: int | None = None) -> str:
    """At most ``limit`` items (and ``max_chars`` characters), joined, and how many more:
    whole items, never one cut mid-value (``a, b and 7 more``)."""
    shown: list[str] = []
    size = 0
    for item in items[:limit]:
        size += len(item) + (2 if shown else 0)
        if shown and max_chars is not None and size + len(" and 9999 more") > max_chars:
            break
        shown.append(item)
    extra = len(items) - len(shown)
    return f"{', '.join(shown)} and {extra} more" if extra > 0 else ", ".join(shown)
