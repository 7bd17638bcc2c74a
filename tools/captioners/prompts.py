"""Prompts for the VLM captioners (transformers, vLLM, OpenAI-compatible).

Why this module exists: every VLM backend must say the same thing to its model, so that
captions from different backends are comparable and one ``PROMPTS_VERSION`` bump invalidates
them all in the store. The wording lives in template files under ``prompts/vlm_*.txt``
(package data, snapshot-tested); this module only fills them.

Context fields (previous/parent/child captions, transcript, entities) are *data from the
video*, and a video can say anything, e.g. a subtitle reading "ignore previous instructions"
or a caption containing ``<|im_start|>``. So each field is quoted in a delimited block that
the text states is not instructions, and :func:`videonav.tools.quoting.sanitize` neutralises anything that a
tokenizer could read as a chat-template special token (``<|im_end|>``, ``<image>``,
``[INST]``...) or that could close our own quote fence. Neutralising ``<image>`` also
matters mechanically: processors count image placeholders in the text, and a stray one in a
transcript would make them reject the request.

Callers choose the task through ``describe``'s ``prompt``: ``""`` means the default caption
(:func:`caption_instruction`), :func:`clip_qa_instruction` wraps a question; any other text is
used as the instruction verbatim (after token neutralisation).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from importlib import resources
from string import Template

from videonav.memory.timefmt import clock
from videonav.tools.captioners.base import CaptionContext
from videonav.tools.quoting import neutralise_tokens, sanitize

PROMPTS_VERSION = "vlm1"
"""Bump whenever a template or the rendering below changes (part of every caption's cache key)."""

# Field length caps (characters): keep one noisy subtitle track from crowding out the frames.
CAPTION_CHARS = 1200
TRANSCRIPT_CHARS = 4000
QUESTION_CHARS = 1000
ENTITY_CHARS = 80
MAX_ENTITIES = 40
MAX_CHILDREN = 16
CHILD_CHARS = 600

@cache
def _template(name: str) -> Template:
    text = resources.files("videonav.tools").joinpath("prompts", f"{name}.txt").read_text(encoding="utf-8")
    return Template(text)


def format_time(seconds: float) -> str:
    """:func:`videonav.memory.timefmt.clock` with tenths when they matter (frame timestamps).

    >>> format_time(75), format_time(3725.5), format_time(9.25)
    ('01:15', '1:02:05.5', '00:09.2')
    """
    whole, frac = divmod(round(max(0.0, float(seconds)) * 10), 10)  # frame times: to the nearest tenth
    return clock(whole) + (f".{frac}" if frac else "")


def _block(title: str, body: str) -> str:
    return f'[{title}]\n"""\n{body}\n"""'


def context_blocks(context: CaptionContext | None) -> list[str]:
    """The context fields that are set, each as a quoted block (in a fixed order)."""
    if context is None:
        return []
    blocks: list[str] = []
    c = context
    if c.parent_caption:
        blocks.append(_block("CAPTION OF THE ENCLOSING PART", sanitize(c.parent_caption, CAPTION_CHARS)))
    if c.previous_caption:
        blocks.append(_block("CAPTION OF THE PREVIOUS CLIP", sanitize(c.previous_caption, CAPTION_CHARS)))
    children = [sanitize(c, CHILD_CHARS) for c in context.child_captions[:MAX_CHILDREN] if c.strip()]
    if children:
        body = "\n".join(f"{i}. {c}" for i, c in enumerate(children, 1))
        blocks.append(_block("CAPTIONS OF THIS PART'S CLIPS, IN ORDER", body))
    entities = [sanitize(e, ENTITY_CHARS) for e in context.entities[:MAX_ENTITIES] if e.strip()]
    if entities:
        blocks.append(_block("NAMES SEEN EARLIER IN THE VIDEO", "; ".join(entities)))
    if context.transcript and context.transcript.strip():
        blocks.append(_block("SUBTITLES / SPEECH DURING THIS CLIP", sanitize(c.transcript, TRANSCRIPT_CHARS)))
    return blocks


def _opening(timestamps: Sequence[float], context: CaptionContext | None, video: bool) -> str:
    span = ""
    if context is not None and context.span[1] > context.span[0]:
        span = f" between {format_time(context.span[0])} and {format_time(context.span[1])}"
    if not timestamps:  # parents captioned from their children's captions only
        return _template("vlm_no_frames").substitute(span_desc=span).strip()
    n = len(timestamps)
    shown = ", ".join(format_time(t) for t in timestamps)
    times = f" ({'as one video; ' if video else 'in order, '}taken at {shown})"
    return _template("vlm_frames").substitute(n_frames=f"{n} frame{'s' if n != 1 else ''}", span_desc=span,
                                              times_desc=times).strip()


def render(prompt: str, context: CaptionContext | None, timestamps: Sequence[float], *,
           video: bool = False) -> str:
    """The full user-turn text a VLM backend sends with the frames.

    ``prompt`` is ``describe``'s prompt: ``""`` = the default caption for this context.
    """
    instruction = neutralise_tokens(prompt.strip()) if prompt.strip() else caption_instruction(context)
    blocks = context_blocks(context)
    section = _template("vlm_context").substitute(blocks="\n".join(blocks)) if blocks else ""
    return _template("vlm_describe").substitute(
        opening=_opening(timestamps, context, video),
        context_section=section,
        instruction=instruction.strip(),
    ).strip() + "\n"


def caption_instruction(context: CaptionContext | None = None) -> str:
    """The caption task: a summary for parents that come with their children's captions."""
    parent = context is not None and any(c.strip() for c in context.child_captions)
    return _template("vlm_caption_parent" if parent else "vlm_caption").template.strip()


def clip_qa_instruction(question: str) -> str:
    """The clip-QA task wrapping ``question`` (quoted: planners may copy video text into it)."""
    return _template("vlm_clip_qa").substitute(question=sanitize(question, QUESTION_CHARS)).strip()


def caption_prompt(context: CaptionContext | None, timestamps: Sequence[float], *,
                   video: bool = False) -> str:
    """Rendered caption prompt (what a backend sends for ``describe(..., prompt="")``)."""
    return render("", context, timestamps, video=video)


def clip_qa_prompt(question: str, context: CaptionContext | None, timestamps: Sequence[float], *,
                   video: bool = False) -> str:
    """Rendered clip-QA prompt (what a backend sends for ``prompt=clip_qa_instruction(question)``)."""
    return render(clip_qa_instruction(question), context, timestamps, video=video)
