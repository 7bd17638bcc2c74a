"""The gradio page of ``videonav demo``: layout, and results turned into components.

Why the callbacks are module functions taking the service first: tests call them exactly as
gradio does (``functools.partial`` binds the service), including the error path, which must
put a one-line message in the status box and never a stack trace. Unexpected exceptions are
logged with their traceback on the server and shown as "internal error" in the page.
gradio is imported only inside :func:`build_app`, so the formatting helpers need no UI stack.
"""

from __future__ import annotations

import functools
import html
import json
import logging
from pathlib import Path
from typing import Any

from videonav.agent.chapters.build import Chapter
from videonav.agent.demo.app import EXPORT_EXT, STRATEGY_CHOICES, DemoService, Indexed, parse_options
from videonav.agent.demo.player import (
    EVIDENCE_HEADERS,
    PLAYER_JS,
    evidence_rows,
    on_pick_chapter,
    on_pick_evidence,
    on_seek,
)
from videonav.agent.demo.timeline import empty_timeline, timeline_html
from videonav.agent.errors import is_user_error
from videonav.agent.result import AskResult
from videonav.memory.timefmt import clock

log = logging.getLogger(__name__)

SOURCES = ("sample video", "upload")
TRACE_HEADERS = ["round", "action", "arguments", "captions read", "confidence", "seconds", "observation"]
CHAPTER_HEADERS = ["#", "start", "end", "title", "summary"]


def error_text(e: BaseException) -> str:
    """The status line for a failure: the user's own message for user errors, a pointer to the log else."""
    if is_user_error(e):
        return f"**Error:** {html.escape(str(e))}"
    log.exception("demo handler failed")
    return f"**Internal error** ({type(e).__name__}); the details are in the server log."


def answer_markdown(res: AskResult) -> str:
    letter = ""
    if res.option_index is not None and res.options:
        letter = f" (option {'ABCDEFGH'[res.option_index]})"
    head = " ".join((res.answer or "(no answer)").split())  # a free-text answer may span lines
    head = head if len(head) <= 300 else head[:299] + "…"
    # the one place confidence is shown; the evidence is the clickable table under it
    lines = [f"### {html.escape(head, quote=False)}{letter}",
             f"**Confidence:** {res.confidence:.2f} · halted by `{res.halted_by or 'n/a'}` · "
             f"strategy `{res.strategy}`"]
    if res.evidence:
        n = len(evidence_rows(res)[1])
        lines.append(f"**Evidence:** {n} span{'s' if n != 1 else ''} below; click one to play it.")
    return "\n\n".join(lines)


def path_markdown(res: AskResult) -> str:
    """The planner's route through the tree, in visit order."""
    steps = []
    for s in res.trace:
        arg = s.arguments.get("node_id") or s.arguments.get("query") or ""
        steps.append(f"{s.action}({str(arg)[:40]})" if arg else s.action)
    return "**Path:** " + (" → ".join(html.escape(s) for s in steps) if steps else "(none)")


def cost_markdown(res: AskResult) -> str:
    c = res.cost
    calls = ", ".join(f"{k} {v}" for k, v in sorted(c.tool_calls.items())) or "none"
    rows = [("rounds", c.rounds), ("tool calls", calls), ("captions read", c.captions_read),
            ("captions built on demand", c.captions_built),
            ("tokens", f"{c.prompt_tokens} + {c.completion_tokens}"),
            ("seconds", f"{c.seconds:.2f} (LLM {c.llm_seconds:.2f}, tools {c.tool_seconds:.2f}, "
                        f"captioning {c.caption_seconds:.2f})")]
    return "| cost | |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in rows)


def trace_rows(res: AskResult) -> list[list[Any]]:
    return [[s.round, s.action if s.valid else f"{s.action} (invalid)",
             json.dumps(s.arguments, ensure_ascii=False)[:120], s.reads,
             None if s.confidence is None else round(s.confidence, 3), round(s.seconds, 2),
             " ".join(s.observation.split())[:200]] for s in res.trace]


def chapter_rows(chapters: list[Chapter]) -> list[list[Any]]:
    return [[i, clock(c.start), clock(c.end), c.title, c.summary[:300]] for i, c in enumerate(chapters, 1)]


def on_source(source: str) -> Any:
    """The upload box only in upload mode (in sample mode it is a control that does nothing)."""
    import gradio as gr

    return gr.update(visible=source == "upload")


def _question_label(q: dict[str, Any]) -> str:
    return f"{q.get('qid', '?')}: {q['question']}"


# -- callbacks (gradio passes component values; the service is bound with functools.partial) --------
def on_index(svc: DemoService, source: str, upload: Any, progress: Any = None) -> tuple[Any, ...]:
    """-> (state, status, timeline, sample-question dropdown update, summary)."""
    import gradio as gr

    def report(frac: float, desc: str) -> None:
        if progress is not None:
            progress(frac, desc=desc)

    try:
        if source == "upload":
            video = svc.store_upload(upload)
            name = Path(str(upload)).name
        else:
            video = svc.sample_video(report)
            name = video.name
        state, stats = svc.index(video, name, report)
        tree = svc.tree(state)
    except Exception as e:  # noqa: BLE001 - the page shows one line; the log keeps the traceback
        return gr.skip(), error_text(e), gr.skip(), gr.skip()
    status = (f"Indexed **{html.escape(state.name)}**: {len(tree)} nodes, {len(tree.leaves())} clips, "
              f"depth {tree.depth}, {tree.duration:.0f} s of video in {stats.wall_seconds:.1f} s "
              f"(captioned now {stats.captioned_now}, already stored {stats.captioned_before}).")
    choices = [_question_label(q) for q in state.questions]
    dd = gr.update(choices=choices, value=None, visible=bool(choices))
    return state, status, timeline_html(tree, title=state.name), dd


def on_pick_question(state: Indexed | None, label: str | None) -> tuple[str, str]:
    """Fill the question and options from the sample's ``.questions.json``."""
    import gradio as gr

    for q in (state.questions if state else []):
        if label == _question_label(q):
            return q["question"], "\n".join(str(o) for o in q.get("options", []))
    return gr.skip(), gr.skip()


def _reporter(progress: Any) -> Any:
    if progress is None:
        return None
    return lambda frac, desc: progress(frac, desc=desc)


def on_ask(svc: DemoService, state: Indexed | None, question: str, options: str, strategy: str,
           progress: Any = None) -> tuple[Any, ...]:
    """-> (status, answer, path, timeline, trace table, cost, evidence table, evidence spans)."""
    import gradio as gr

    try:
        res = svc.ask(state, question, parse_options(options), strategy, _reporter(progress))
        tree = svc.tree(state)
    except Exception as e:  # noqa: BLE001
        return (error_text(e),) + (gr.skip(),) * 7
    status = f"Answered in {res.cost.seconds:.1f} s after reading {res.cost.captions_read} captions."
    title = state.name if state else ""
    rows, spans = evidence_rows(res)
    return (status, answer_markdown(res), path_markdown(res),
            timeline_html(tree, visited=res.visited, evidence=res.evidence, title=title),
            trace_rows(res), cost_markdown(res), rows, spans)


def on_chapters(svc: DemoService, state: Indexed | None, llm_titles: bool = False,
                progress: Any = None) -> tuple[Any, ...]:
    """-> (status, chapter table, chapter spans, one download-button update per format)."""
    import gradio as gr

    try:
        chapters, files, skipped = svc.chapters(state, bool(llm_titles), _reporter(progress))
    except Exception as e:  # noqa: BLE001
        return (error_text(e), gr.skip(), gr.skip()) + (gr.skip(),) * len(EXPORT_EXT)
    status = (f"{len(chapters)} chapters; click one to play it from its start."
              + (" Not exported: " + "; ".join(skipped) if skipped else ""))
    buttons = [gr.update(value=str(files[f]), interactive=True) if f in files
               else gr.update(interactive=False) for f in EXPORT_EXT]
    spans = [(f"chapter {i}", float(c.start), float(c.end)) for i, c in enumerate(chapters, 1)]
    return (html.escape(status), chapter_rows(chapters), spans, *buttons)


SEARCH_HEADERS = ["video", "start", "end", "node", "text", "score"]


def on_search(svc: DemoService, query: str) -> tuple[Any, ...]:
    """-> (status, hit table, hits for the click handler); no match is a message, not an error."""
    try:
        hits = svc.search(query)
    except Exception as e:  # noqa: BLE001
        return error_text(e), [], []
    rows = [[h.video_id, clock(h.start), clock(h.end), h.node_id, " ".join(h.text.split())[:200], round(h.score, 4)]
            for h in hits]
    msg = f"{len(hits)} hits; click one to see its span." if hits else "No matches in the store."
    return msg, rows, hits


def on_pick_hit(svc: DemoService, hits: list[Any], row: int | None) -> tuple[str, str]:
    """-> (the hit's span as text, the timeline of its video with the span marked)."""
    if not hits or row is None or not 0 <= row < len(hits):
        return "", empty_timeline("Search, then click a hit.")
    h = hits[row]
    try:
        tree = svc.store.load_tree(h.tree_key)
    except Exception as e:  # noqa: BLE001
        return error_text(e), empty_timeline()
    node = tree.node(h.node_id) if h.node_id in tree else None
    lines = [f"### {html.escape(h.video_id)} {clock(h.start)}–{clock(h.end)} `[{html.escape(h.node_id)}]`"]
    if node is not None:
        lines.append(html.escape(node.caption or "", quote=False))
        lines += [f"- {clock(ln.start)}–{clock(ln.end)}: {html.escape(ln.text[:200], quote=False)}"
                  for ln in node.lines[:12]]
    from videonav.agent.result import Span

    span = Span(node_id=h.node_id, start=h.start, end=h.end, kind="clip", text=h.text)
    return "\n\n".join(lines), timeline_html(tree, evidence=[span], title=f"search hit in {h.video_id}")


CSS = """
#vn-answer h3 { margin-top: 0; }
.vn-timeline-wrap svg { border: 1px solid #e5e7eb; border-radius: 6px; }
.vn-timeline-wrap [data-start] { cursor: pointer; }
.vn-hidden { display: none !important; }
"""


def build_app(svc: DemoService) -> Any:
    """The ``gr.Blocks`` page (not launched)."""
    import gradio as gr

    def index_cb(source: str, upload: Any, progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:  # noqa: B008
        out = on_index(svc, source, upload, progress)
        return out + (cleared() if isinstance(out[0], Indexed) else (gr.skip(),) * len(cleared()))

    def ask_cb(state: Indexed | None, question: str, options: str, strategy: str,
               progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:  # noqa: B008
        return on_ask(svc, state, question, options, strategy, progress)

    def chapters_cb(state: Indexed | None, llm: bool, progress: gr.Progress = gr.Progress()  # noqa: B008
                    ) -> tuple[Any, ...]:
        return on_chapters(svc, state, llm, progress)

    def row_of(evt: gr.SelectData) -> int | None:
        return evt.index[0] if isinstance(evt.index, list | tuple) else evt.index

    with gr.Blocks(title="videonav demo", analytics_enabled=False) as app:
        state = gr.State(None)
        gr.Markdown("## videonav — ask a video, watch the planner navigate its caption tree")
        with gr.Row():
            with gr.Column(scale=1, min_width=260):
                source = gr.Radio(list(SOURCES), value=SOURCES[0], label="video", elem_id="vn-source")
                upload = gr.File(label=f"upload a video (max {svc.settings.max_upload_mb:g} MB)",
                                 file_types=["video"], type="filepath", height=180, elem_id="vn-upload",
                                 visible=False)
                index_btn = gr.Button("Index", variant="primary", elem_id="vn-index")
                status = gr.Markdown("Pick the sample video or upload one, then press **Index**.",
                                     elem_id="vn-status")
            with gr.Column(scale=3):
                timeline = gr.HTML(empty_timeline(), elem_id="vn-timeline")
                with gr.Row():
                    player = gr.Video(label="player: click evidence, a chapter or a timeline bar", height=260,
                                      interactive=False, autoplay=True, elem_id="vn-player")
                play_status = gr.Markdown("", elem_id="vn-play-status")
                seek = gr.Textbox(elem_id="vn-seek", elem_classes=["vn-hidden"], show_label=False,
                                  container=False)
        with gr.Tabs():
            with gr.Tab("Ask", elem_id="vn-tab-ask"):
                with gr.Row():
                    with gr.Column(scale=2):
                        picker = gr.Dropdown([], label="sample questions", visible=False, elem_id="vn-picker",
                                             info="pick one to fill in the question and its options")
                        question = gr.Textbox(label="question", lines=2, elem_id="vn-question",
                                              placeholder="What number was shown on the red slide?")
                        options = gr.Textbox(label="options (optional, one per line)", lines=4,
                                             elem_id="vn-options")
                        strategy = gr.Radio(list(STRATEGY_CHOICES), value="guided", label="strategy")
                        ask_btn = gr.Button("Ask", variant="primary", elem_id="vn-ask")
                    with gr.Column(scale=3):
                        answer = gr.Markdown("", elem_id="vn-answer")
                        evidence = gr.Dataframe(headers=EVIDENCE_HEADERS, label="evidence (click to play)",
                                                interactive=False, wrap=True, elem_id="vn-evidence",
                                                column_widths=["10%", "9%", "9%", "72%"])
                        path = gr.Markdown("", elem_id="vn-path")
                        cost = gr.Markdown("", elem_id="vn-cost")
                trace = gr.Dataframe(headers=TRACE_HEADERS, label="trace", interactive=False, wrap=True,
                                     column_widths=["6%", "8%", "26%", "8%", "9%", "7%", "36%"],
                                     elem_id="vn-trace")
            with gr.Tab("Chapters", elem_id="vn-tab-chapters"):
                with gr.Row():
                    chapters_btn = gr.Button("Make chapters", elem_id="vn-chapters")
                    llm_titles = gr.Checkbox(False, label="LLM titles (one LLM call per chapter: minutes on a CPU)",
                                             elem_id="vn-llm-titles")
                chapters_status = gr.Markdown("", elem_id="vn-chapters-status")
                chapter_table = gr.Dataframe(headers=CHAPTER_HEADERS, interactive=False, wrap=True,
                                             label="chapters (click one to play it)",
                                             column_widths=["4%", "7%", "7%", "27%", "55%"],
                                             elem_id="vn-chapter-table")
                with gr.Row():
                    downloads = [gr.DownloadButton(f"Download {fmt}", interactive=False, size="sm",
                                                   elem_id=f"vn-dl-{fmt}") for fmt in EXPORT_EXT]
            with gr.Tab("Search", elem_id="vn-tab-search"):
                hits_state = gr.State([])
                with gr.Row():
                    search_box = gr.Textbox(label="search every indexed video", scale=4, elem_id="vn-search",
                                            placeholder="secret word, a number on a slide, a spoken phrase")
                    search_btn = gr.Button("Search", elem_id="vn-search-btn", scale=1)
                search_status = gr.Markdown("", elem_id="vn-search-status")
                hit_table = gr.Dataframe(headers=SEARCH_HEADERS, interactive=False, wrap=True,
                                         elem_id="vn-search-hits")
                hit_span = gr.Markdown("", elem_id="vn-search-span")
        ev_spans = gr.State([])
        chapter_spans = gr.State([])

        # a new video clears the previous one's answer, chapters and clip (stale results would mislead)
        stale = [answer, evidence, ev_spans, path, cost, trace, chapters_status, chapter_table, chapter_spans,
                 player, play_status, *downloads]

        def cleared() -> tuple[Any, ...]:
            off = [gr.update(value=None, interactive=False) for _ in downloads]
            return ("", [], [], "", "", [], "", [], [], None, "", *off)

        source.change(on_source, [source], [upload])
        index_btn.click(index_cb, [source, upload], [state, status, timeline, picker, *stale])
        picker.change(on_pick_question, [state, picker], [question, options])
        ask_btn.click(ask_cb, [state, question, options, strategy],
                      [status, answer, path, timeline, trace, cost, evidence, ev_spans])

        def pick_evidence(st: Indexed | None, sp: list[Any], evt: gr.SelectData) -> tuple[Any, str]:
            return on_pick_evidence(svc, st, sp, row_of(evt))

        def pick_chapter(st: Indexed | None, sp: list[Any], evt: gr.SelectData) -> tuple[Any, str]:
            return on_pick_chapter(svc, st, sp, row_of(evt))

        chapters_btn.click(chapters_cb, [state, llm_titles],
                           [chapters_status, chapter_table, chapter_spans, *downloads])
        seek.change(functools.partial(on_seek, svc), [state, seek], [player, play_status])
        search_io = ([search_box], [search_status, hit_table, hits_state])
        search_btn.click(functools.partial(on_search, svc), *search_io)
        search_box.submit(functools.partial(on_search, svc), *search_io)

        def pick_hit(hits: list[Any], evt: gr.SelectData) -> tuple[str, str]:
            return on_pick_hit(svc, hits, row_of(evt))

        for fn in (pick_evidence, pick_chapter, pick_hit):  # gradio injects SelectData by resolved type hint;
            fn.__annotations__["evt"] = gr.SelectData  # a string naming a local import would not resolve
        hit_table.select(pick_hit, [hits_state], [hit_span, timeline])
        evidence.select(pick_evidence, [state, ev_spans], [player, play_status])
        chapter_table.select(pick_chapter, [state, chapter_spans], [player, play_status])
    return app


def launch(svc: DemoService, host: str = "127.0.0.1", port: int = 7860, **kwargs: Any) -> None:
    """Serve the page; only the exports and clips folders are reachable as files (not the store, not
    uploads: the player gets cut clips of the spans a user clicks)."""
    app = build_app(svc)
    app.queue(default_concurrency_limit=1)
    app.launch(server_name=host, server_port=port, max_file_size=int(svc.settings.max_upload_mb * 2**20),
               allowed_paths=[str(svc.root / "exports"), str(svc.root / "clips")], show_error=False, css=CSS,
               js=PLAYER_JS, **kwargs)
