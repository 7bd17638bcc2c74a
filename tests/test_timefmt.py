"""One clock: the demo's chapter table, every chapter export and the prompts print the same stamps."""

from __future__ import annotations

import pytest

from videonav.agent.chapters.build import Chapter
from videonav.agent.chapters.formats import to_markdown, to_youtube
from videonav.agent.demo.ui import chapter_rows
from videonav.agent.prompts import node_line
from videonav.memory.timefmt import clock
from videonav.memory.tree import Node


def _chapters(t: float) -> list[Chapter]:
    return [Chapter(start=0.0, end=t, title="Opening"), Chapter(start=t, end=2 * t, title="Middle"),
            Chapter(start=2 * t, end=200.0, title="End")]


@pytest.mark.parametrize(("t", "stamp"), [(59.6, "00:59"), (59.4, "00:59"), (60.0, "01:00"), (3600.5, "1:00:00")])
def test_demo_table_and_markdown_agree(t: float, stamp: str) -> None:
    chs = _chapters(t)
    rows = chapter_rows(chs)
    md = to_markdown(chs, "vid")
    assert rows[0][2] == rows[1][1] == stamp
    assert f"(00:00–{stamp})" in md and f"({stamp}–" in md


def test_youtube_export_floors_like_youtube() -> None:
    out = to_youtube(_chapters(59.6), 200.0)
    assert out.splitlines()[1] == "00:59 Middle"


def test_prompts_and_timeline_use_the_same_clock() -> None:
    node = Node(id="1", start=59.6, end=119.7, level=1, caption="x")
    assert node_line(node, True).startswith(f"[1] {clock(59.6)}-{clock(119.7)} ")
    assert clock(59.6) == "00:59" and clock(119.7) == "01:59"


def test_every_time_formatter_is_the_shared_one() -> None:
    import videonav.agent.chapters.formats as formats
    import videonav.agent.chapters.titles as titles
    import videonav.agent.demo.timeline as timeline
    import videonav.agent.demo.ui as ui
    import videonav.agent.prompts as prompts

    for mod in (formats, titles, timeline, ui, prompts):
        assert mod.clock is clock, mod.__name__
