"""WebVTT chapter cues escape ``&``, ``<`` and ``>``: a title like "Q&A <b>live</b>" must not become
markup or a broken entity in a player (the WebVTT cue-text rules)."""

from __future__ import annotations

import html

from videonav.agent.chapters.build import Chapter
from videonav.agent.chapters.formats import to_webvtt


def test_titles_are_escaped_and_read_back() -> None:
    titles = ["Q&A <b>live</b>", "a --> b", "5 > 3 & 2 < 4"]
    chs = [Chapter(start=10.0 * i, end=10.0 * (i + 1), title=t, summary="") for i, t in enumerate(titles)]
    vtt = to_webvtt(chs)
    body = vtt.split("\n\n", 1)[1]
    cue_texts = [block.splitlines()[2] for block in body.strip().split("\n\n")]
    assert cue_texts[0] == "Q&amp;A &lt;b&gt;live&lt;/b&gt;"
    assert [html.unescape(t) for t in cue_texts] == titles
    for t in cue_texts:
        assert "<" not in t and ">" not in t and "-->" not in t
    import webvtt

    assert [c.text for c in webvtt.from_string(vtt)] == cue_texts
