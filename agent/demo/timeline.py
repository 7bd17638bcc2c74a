"""The caption tree as an SVG timeline: one row per tree level, one bar per node.

Why hand-written SVG: the demo must stay dependency-light (no matplotlib, no plotly) and the
picture is simple: bars on a shared time axis. SVG in a ``gr.HTML`` gives hover tooltips
(``<title>``), crisp scaling and stable class names that tests and the browser test can assert
on (``vn-bar``, ``vn-level-<n>``, ``vn-visited``, ``vn-evidence``). Everything user-derived
(captions, ids) is HTML-escaped: captions come from OCR of arbitrary uploads.

After a question, the planner's path lights up: bars it read are outlined and numbered in visit
order, the spans its answer cites are filled orange, and a separate "evidence" row shows cited
spans that are not whole nodes (verbatim subtitle lines). Every bar and cited span carries
``data-start``/``data-end``: the page's script turns a click on one into playing that span.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from videonav.agent.result import Span
from videonav.memory.timefmt import clock
from videonav.memory.tree import CaptionTree

WIDTH = 1000  # SVG user units; the SVG scales to the panel's width
LABEL_W = 70
ROW_H = 26
ROW_GAP = 6
AXIS_H = 24
LEVEL_FILL = ["#334155", "#2563eb", "#0891b2", "#059669", "#65a30d", "#ca8a04"]
VISITED_STROKE = "#f43f5e"
EVIDENCE_FILL = "#f97316"


def _level_name(level: int, depth: int) -> str:
    if level == 0:
        return "video"
    if level == depth:
        return f"L{level} clips"
    return f"L{level}"


def _ticks(duration: float, target: int = 8) -> list[float]:
    """Round tick positions (seconds) for the time axis.

    >>> _ticks(120.0)[:4]
    [0.0, 15.0, 30.0, 45.0]
    """
    if duration <= 0:
        return [0.0]
    steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600]
    step = next((s for s in steps if duration / s <= target), steps[-1])
    n = int(duration // step)
    return [float(i * step) for i in range(n + 1)]


def _short(text: str | None, n: int = 220) -> str:
    t = " ".join((text or "").split())
    return t if len(t) <= n else t[: n - 1] + "…"


def timeline_html(tree: CaptionTree, *, visited: Sequence[Span] = (), evidence: Sequence[Span] = (),
                  title: str = "") -> str:
    """An HTML fragment (a ``<div>`` holding one ``<svg>``) drawing ``tree`` with the given highlights."""
    duration = max(tree.duration, max((n.end for n in tree.nodes()), default=0.0), 1e-6)
    depth = tree.depth
    plot_w = WIDTH - LABEL_W - 24  # room for the last tick label
    order: dict[str, int] = {}
    for s in visited:
        if s.node_id and s.node_id not in order:
            order[s.node_id] = len(order) + 1
    cited = {s.node_id for s in evidence if s.node_id}
    loose = [s for s in evidence if not s.node_id or s.node_id not in tree]
    rows = depth + 1 + (1 if evidence else 0)
    height = rows * (ROW_H + ROW_GAP) + AXIS_H + 4

    def x(t: float) -> float:
        return LABEL_W + plot_w * max(0.0, min(t, duration)) / duration

    parts = [f'<svg class="vn-timeline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
             f'width="100%" role="img" aria-label="caption tree timeline" '
             f'style="font-family: sans-serif; font-size: 12px; background: #fff">']
    for level in range(depth + 1):
        y = level * (ROW_H + ROW_GAP)
        parts.append(f'<text x="4" y="{y + ROW_H * 0.68:.1f}" fill="#111">{_level_name(level, depth)}</text>')
        for n in sorted(tree.level(level), key=lambda n: n.start):
            x0, x1 = x(n.start), x(n.end)
            classes = ["vn-bar", f"vn-level-{level}"]
            fill = LEVEL_FILL[min(level, len(LEVEL_FILL) - 1)]
            opacity = "0.85" if n.caption is not None else "0.3"
            stroke, sw = "#fff", "1"
            if n.id in cited:
                classes.append("vn-evidence")
                fill, opacity = EVIDENCE_FILL, "1"
            if n.id in order:
                classes.append("vn-visited")
                stroke, sw = VISITED_STROKE, "3"
            tip = f"[{n.id}] {clock(n.start)}-{clock(n.end)}: {_short(n.caption) or '(not captioned yet)'}"
            parts.append(
                f'<g class="{" ".join(classes)}" data-node="{html.escape(n.id)}" '
                f'data-start="{n.start:.3f}" data-end="{n.end:.3f}">'
                f'<rect x="{x0:.1f}" y="{y}" width="{max(x1 - x0 - 1, 1):.1f}" height="{ROW_H}" rx="3" '
                f'fill="{fill}" fill-opacity="{opacity}" stroke="{stroke}" stroke-width="{sw}">'
                f'<title>{html.escape(tip)}</title></rect>')
            if n.id in order:
                parts.append(f'<text x="{x0 + 4:.1f}" y="{y + ROW_H * 0.68:.1f}" fill="#fff" '
                             f'font-weight="bold">{order[n.id]}</text>')
            elif x1 - x0 > 60:
                parts.append(f'<text x="{x0 + 4:.1f}" y="{y + ROW_H * 0.68:.1f}" fill="#fff">'
                             f'{html.escape(n.id)}</text>')
            parts.append("</g>")
    if evidence:
        y = (depth + 1) * (ROW_H + ROW_GAP)
        parts.append(f'<text x="4" y="{y + ROW_H * 0.68:.1f}" fill="{EVIDENCE_FILL}" '
                     f'font-weight="bold">evidence</text>')
        for s in evidence:
            x0, x1 = x(s.start), x(s.end)
            cls = "vn-cite" + (" vn-cite-line" if s in loose else "")
            tip = f"{clock(s.start)}-{clock(s.end)}: {_short(s.text)}"
            parts.append(f'<rect class="{cls}" data-start="{s.start:.3f}" data-end="{s.end:.3f}" '
                         f'data-node="{html.escape(s.node_id or "")}" '
                         f'x="{x0:.1f}" y="{y}" width="{max(x1 - x0, 3):.1f}" '
                         f'height="{ROW_H}" rx="3" fill="{EVIDENCE_FILL}">'
                         f'<title>{html.escape(tip)}</title></rect>')
    y_axis = rows * (ROW_H + ROW_GAP)
    parts.append(f'<line x1="{LABEL_W}" y1="{y_axis}" x2="{LABEL_W + plot_w}" y2="{y_axis}" stroke="#999"/>')
    for t in _ticks(duration):
        parts.append(f'<line x1="{x(t):.1f}" y1="{y_axis}" x2="{x(t):.1f}" y2="{y_axis + 5}" stroke="#999"/>'
                     f'<text x="{x(t):.1f}" y="{y_axis + 18}" fill="#555" '
                     f'text-anchor="middle">{clock(t)}</text>')
    parts.append("</svg>")
    head = (f'<div class="vn-title" style="font-weight:600;margin:4px 0">{html.escape(title)}</div>'
            if title else "")
    legend = ('<div class="vn-legend" style="font-size:12px;color:#444;margin-top:2px">'
              f'<span style="color:{VISITED_STROKE}">&#9633; read by the planner (numbered in order)</span> '
              f'&nbsp; <span style="color:{EVIDENCE_FILL}">&#9632; cited as evidence</span> '
              '&nbsp; faded = not captioned yet (lazy) &nbsp; click a bar to play it</div>'
              ) if (visited or evidence) else ""
    return f'<div class="vn-timeline-wrap">{head}{"".join(parts)}{legend}</div>'


def empty_timeline(message: str = "Index a video to see its caption tree here.") -> str:
    return f'<div class="vn-timeline-empty" style="color:#666;padding:24px">{html.escape(message)}</div>'
