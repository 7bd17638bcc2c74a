"""Colour words as the thing they belong to: "the white slide" is not "a white triangle".

Why a module of its own: the option scorer's features, the evidence gap that keeps the planner
reading, and the free-text reader's closed classes must agree on what a colour in a caption
refers to. The trained captioner writes a sprite's ink before its shape word ("A white triangle
moves across a pink slide"), so a bag of words matches a "white slide" question to every such
caption; a shade makes another colour ("dark red" is not "red", as the reader's terms say).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

COLOURS = frozenset("red orange yellow green blue purple pink brown black white grey gray cyan teal magenta "
                    "violet gold silver beige navy maroon".split())
SHAPES = frozenset("circle square triangle star hexagon pentagon octagon rectangle oval ellipse diamond heart "
                   "cross arrow ring cube sphere cone cylinder".split())
"""Shape words a caption may use (the closed class "what shape" asks for)."""
_SHADES = frozenset("dark light pale deep bright".split())
_SIZES = frozenset("small big large little tiny".split())

_WORD = re.compile(r"[a-z0-9]+")


def tokens(text: str) -> list[str]:
    """Lower-cased alphanumeric tokens: the unit of exact matching (the scorer's features use them too)."""
    return _WORD.findall(text.lower())


def _shape_word(w: str) -> bool:
    return w in SHAPES or (w.endswith("s") and w[:-1] in SHAPES)


def colour_refs(toks: Sequence[str]) -> list[tuple[str, bool]]:
    """(colour name, names a shape's ink) for each colour word of ``toks`` (lower-case tokens).

    A shade stays with its colour ("dark red" is not "red", as in the extractive reader's terms),
    and a colour right before a shape word (a size word may sit between) is that shape's ink:
    "a white triangle on a pink slide" names a pink slide, not a white one. Why: a question's
    colour picks out one thing ("the white slide"); a caption's colour for another thing must not
    count as that thing's.

    >>> colour_refs(tokens("A white triangle moves across a dark red slide"))
    [('white', True), ('dark red', False)]
    >>> colour_refs(tokens("on cyan")), colour_refs(tokens("a pink small circles"))
    ([('cyan', False)], [('pink', True)])
    """
    out: list[tuple[str, bool]] = []
    for i, w in enumerate(toks):
        if w not in COLOURS:
            continue
        name = f"{toks[i - 1]} {w}" if i and toks[i - 1] in _SHADES else w
        j = i + 1
        while j < len(toks) and toks[j] in _SIZES:
            j += 1
        out.append((name, j < len(toks) and _shape_word(toks[j])))
    return out


def colour_misses(question: str, toks: Sequence[str]) -> set[str]:
    """Colour words of ``question`` that ``toks`` holds only as another thing's colour: as a shape's
    ink or with another shade ("white" in "a white triangle" for "the white slide", "red" in "dark
    red" for "the red slide"); those words must not count as matching the question.

    >>> colour_misses("What shape moved across the white slide?", tokens("A white square on a grey slide"))
    {'white'}
    >>> colour_misses("What shape moved across the white slide?", tokens("A white square on a white slide"))
    set()
    >>> colour_misses("Which slide showed a white square?", tokens("A white square on a grey slide"))
    set()
    """
    asked = colour_refs(tokens(question))
    if not asked:
        return set()
    have = set(colour_refs(toks))
    return {name.split()[-1] for name, ink in asked if (name, ink) not in have and name.split()[-1] in toks}


