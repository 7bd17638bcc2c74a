"""The demo's player: what to play when an evidence row, a chapter or a timeline bar is clicked.

Why here and not in ``ui``: these are plain functions of the service and the page state (tests
call them as gradio does), and the one piece of browser code, :data:`PLAYER_JS`, sits next to the
handler it feeds. The timeline is SVG inside a ``gr.HTML``, which has no click event of its own:
the script forwards a click on any element with ``data-start``/``data-end`` into a hidden textbox
(``#vn-seek``), whose ``change`` event runs :func:`on_seek` (a nonce makes every click a change).
"""

from __future__ import annotations

import html
import math
from typing import Any

from videonav.agent.demo.app import DemoService, Indexed
from videonav.agent.result import AskResult
from videonav.memory.timefmt import clock

EVIDENCE_HEADERS = ["node", "start", "end", "cited text"]
Span3 = tuple[str, float, float]  # (label, start, end): what a clicked row plays

PLAYER_JS = """
() => {
  window.vnPlayerBridge = true;
  document.addEventListener('click', (ev) => {
    const el = ev.target && ev.target.closest ? ev.target.closest('#vn-timeline [data-start]') : null;
    if (!el) return;
    const box = document.querySelector('#vn-seek textarea, #vn-seek input');
    if (!box) return;
    box.value = [el.dataset.start, el.dataset.end, el.dataset.node || '', Date.now()].join(',');
    box.dispatchEvent(new Event('input', {bubbles: true}));
    box.dispatchEvent(new Event('change', {bubbles: true}));
  });
}
"""


def evidence_rows(res: AskResult) -> tuple[list[list[Any]], list[Span3]]:
    """(table rows, spans) of the cited evidence, each span once (a clip and its line may repeat it)."""
    rows: list[list[Any]] = []
    spans: list[Span3] = []
    seen: set[tuple[str | None, float, float]] = set()
    for e in res.evidence:
        if (e.node_id, e.start, e.end) in seen:
            continue
        seen.add((e.node_id, e.start, e.end))
        rows.append([e.node_id or "line", clock(e.start), clock(e.end), " ".join((e.text or "").split())[:200]])
        spans.append((e.node_id or "line", float(e.start), float(e.end)))
    return rows, spans


def on_play(svc: DemoService, state: Indexed | None, start: float, end: float, label: str = "") -> tuple[Any, str]:
    """-> (player update, player caption): the span cut as a clip, the player seeking to ``start``."""
    import gradio as gr

    from videonav.agent.demo.ui import error_text

    try:
        clip = svc.play(state, start, end)
    except Exception as e:  # noqa: BLE001 - the page shows one line; the log keeps the traceback
        return gr.skip(), error_text(e)
    what = f"`[{html.escape(label)}]` " if label else ""
    cut = " (first two minutes)" if clip.end < end else ""
    return (gr.update(value=str(clip.path), playback_position=clip.offset),
            f"Playing {what}{clock(clip.start)}–{clock(clip.end)}{cut}")


def _row(spans: list[Span3], row: int | None) -> Span3 | None:
    return spans[row] if spans and row is not None and 0 <= row < len(spans) else None


def on_pick_evidence(svc: DemoService, state: Indexed | None, spans: list[Span3], row: int | None
                     ) -> tuple[Any, str]:
    """A click on an evidence row plays its span."""
    import gradio as gr

    span = _row(spans, row)
    return on_play(svc, state, span[1], span[2], span[0]) if span else (gr.skip(), "")


def on_pick_chapter(svc: DemoService, state: Indexed | None, spans: list[Span3], row: int | None
                    ) -> tuple[Any, str]:
    """A click on a chapter row plays the chapter from its start time."""
    import gradio as gr

    span = _row(spans, row)
    return on_play(svc, state, span[1], span[2], span[0]) if span else (gr.skip(), "")


def on_seek(svc: DemoService, state: Indexed | None, text: str) -> tuple[Any, str]:
    """A click on a timeline bar (forwarded by :data:`PLAYER_JS` as ``start,end,node,nonce``)."""
    import gradio as gr

    parts = (text or "").split(",")
    try:
        start, end = float(parts[0]), float(parts[1])
    except (ValueError, IndexError):
        return gr.skip(), ""
    if not (math.isfinite(start) and math.isfinite(end)):
        return gr.skip(), ""
    return on_play(svc, state, start, end, parts[2] if len(parts) > 2 else "")
