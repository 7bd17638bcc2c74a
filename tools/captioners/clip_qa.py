"""Clip QA: ``inspect(node, query)`` = the captioner's ``describe`` on the node's real frames with
the question as the prompt.

Why through the captioner: one backend interface serves captioning and questions, so a VLM
answers from pixels and the offline ``classic`` backend answers from OCR, subtitles and scene
statistics, and both are cached in the store by (tree, node, question, backend version).
The question is wrapped by the VLM prompt module's instruction when it is there; the classic
backend recognises the ``Question:`` block with :func:`parse_question`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from videonav.memory.tree import Node
from videonav.tools.captioners.base import Caption, CaptionContext, Captioner
from videonav.tools.video.readers import VideoReader, sample_span

QA_MIN_FRAMES = 8
QA_MAX_FRAMES = 16
_Q = re.compile(r"Question:\s*(?:\"{3}\s*\n?)?(.*?)(?:\n?\s*\"{3})?\s*$", re.DOTALL)


def qa_prompt(question: str) -> str:
    """The clip-QA prompt for ``question`` (the VLM backends' wording when available)."""
    try:
        from videonav.tools.captioners.prompts import clip_qa_instruction
    except ImportError:  # the VLM prompt module is optional for the classic backend
        return f'Task: answer the question below about this clip.\nQuestion:\n"""\n{question}\n"""'
    return clip_qa_instruction(question)


def parse_question(prompt: str) -> str | None:
    """The question inside a clip-QA prompt, or ``None`` for a captioning prompt.

    >>> parse_question('Task: answer.\\nQuestion:\\n\"\"\"\\nWhat number?\\n\"\"\"'), parse_question("")
    ('What number?', None)
    """
    if "Question:" not in prompt:
        return None
    m = _Q.search(prompt[prompt.index("Question:"):])
    return m.group(1).strip() if m else None


def qa_frame_count(frames_per_leaf: int) -> int:
    return max(QA_MIN_FRAMES, min(QA_MAX_FRAMES, 2 * frames_per_leaf))


def ask_clip(reader: VideoReader, captioner: Captioner, node: Node, question: str, *, frames: int,
             width: int | None, transcript: str | None = None, stats: dict | None = None,
             entities: Sequence[str] = ()) -> Caption:
    """Answer ``question`` from ``frames`` frames spread over the node's span."""
    fr = sample_span(reader, node.start, node.end, frames, width)
    ctx = CaptionContext(span=(node.start, node.end), transcript=transcript, entities=tuple(entities),
                         scene_stats=dict(stats or {}), parent_caption=None)
    return captioner.describe(fr.images, fr.timestamps, qa_prompt(question), ctx)
