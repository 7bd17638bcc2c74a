"""Chapter titles and summaries: extractive by default, the planner LLM's only when it checks out.

Extractive titles come from the chapter itself (:mod:`videonav.agent.chapters.cards`): its card
(a short on-screen line at its start, "CHAPTER 2 / BRIDGES" -> "Bridges"), else its most
distinctive terms against the other chapters (tf-idf); captions without on-screen/speech fields
(a VLM's or a dataset's sentences) get the opening sentence of the most central unit, with the
captioner's boilerplate ("The image showcases ...") and hedges removed. Extractive summaries are
the chapter's most distinctive fields or central sentences (:class:`ExtractiveSummariser`), so
every word of them was in the chapter's captions.

Captions are data from the video (OCR, subtitles, a VLM's words), so the prompt quotes each
one with :func:`videonav.tools.quoting.quote` (no tag can close the block) inside a delimited
block and says not to follow instructions in it.
What the LLM writes is kept only if it passes checks, title and summary each on its own:
non-empty, within the word limit, mostly letters, not a template echo, not generic ("This is a
summary of the video ..."), not a copy of raw OCR ("Chapter 1 | INSECTS 1 | NUMBER 8639"), and
grounded: every content word of a summary occurs in the chapter's captions (a title's, up to
its inflection). A weak 135M model can improve a title without being able to ruin one;
``stats`` counts how often its output is kept.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from importlib import resources
from string import Template
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel

from videonav.agent.chapters.cards import TermStats, card_title, fielded, term_title
from videonav.agent.llm.base import LLM
from videonav.memory.timefmt import clock
from videonav.tools.digest import content_words
from videonav.tools.embed import Embedder, ExtractiveSummariser, split_sentences
from videonav.tools.quoting import quote

PROMPT_VERSION = "chapter-v1"


def load_prompt(name: str = "chapter.txt") -> Template:
    """The prompt template shipped in ``videonav/agent/prompts``."""
    return Template(resources.files("videonav.agent").joinpath("prompts", name).read_text(encoding="utf-8"))


_FILLER = re.compile(
    r"^(?:in\s+(?:this|the)\s+(?:image|video|frame|scene|clip|picture|photo|shot),?\s*)?"
    r"(?:(?:the|this)\s+(?:image|video|frame|scene|clip|picture|photo|footage|shot|still)s?\s+"
    r"(?:shows?|showcases?|depicts?|captures?|features?|displays?|presents?|portrays?|is\s+of|contains?)\s+"
    r"|there\s+(?:is|are)\s+)?", re.I)
_HEDGE = re.compile(
    r",\s*(?:possibly|likely|probably|perhaps|maybe|apparently|seemingly|presumably)\b[^,.;]*,?", re.I)
_BREAK = re.compile(r"[,;:.!?]|\s(?:while|as|that|which|who|whose|where|and\s+is|and\s+are)\s", re.I)
_STOP = {"a", "an", "the", "of", "and", "or", "with", "in", "on", "at", "to", "for", "by", "from", "is",
         "are", "while", "as", "their", "his", "her", "its", "into", "that", "which", "who"}


def compress_title(sentence: str, max_words: int = 8) -> str:
    """A short title from a caption sentence, using only its words.

    >>> compress_title("The image showcases a young child, possibly a toddler, sitting in a green sandbox.")
    'A young child sitting in a green sandbox'
    >>> compress_title("A man is cooking pasta in a small kitchen while talking to the camera", 6)
    'A man is cooking pasta'
    """
    s = _FILLER.sub("", sentence.strip(), count=1)
    s = _HEDGE.sub("", s)
    m = _BREAK.search(s)
    head = s[: m.start()] if m and len(s[: m.start()].split()) >= 3 else s
    words = re.sub(r"[\"'`*_#<>\[\]{}()]", "", head).split()[:max_words]
    while words and words[-1].lower().strip(",.;:") in _STOP:
        words.pop()
    words = [w.strip(",;:") for w in words]
    title = " ".join(w for w in words if w)
    return title[:1].upper() + title[1:] if title else ""


class Written(BaseModel):
    title: str
    summary: str
    source: Literal["llm", "extractive", "mixed", "none"]


def _letters_ratio(text: str) -> float:
    chars = [c for c in text if not c.isspace()]
    return sum(c.isalpha() for c in chars) / len(chars) if chars else 0.0


def _clean(text: str) -> str:
    t = re.sub(r"[*_`#]+", "", text).strip().strip("\"'“”").strip()
    return re.sub(r"\s+", " ", t)


def parse_reply(text: str) -> tuple[str, str]:
    """(title, summary) from ``Title: ...`` / ``Summary: ...`` lines or a JSON object; '' if absent.

    >>> parse_reply("Title: Making pasta\\nSummary: A man cooks.")
    ('Making pasta', 'A man cooks.')
    >>> parse_reply('{"title": "Intro", "summary": "Hello."}')
    ('Intro', 'Hello.')
    """
    raw = text.strip()
    m = re.search(r"\{.*\}", raw, re.S)
    if m:
        try:
            d = json.loads(m.group(0))
            if isinstance(d, dict):
                return _clean(str(d.get("title", ""))), _clean(str(d.get("summary", "")))
        except json.JSONDecodeError:
            pass
    tm = re.search(r"^\W*title\W*:\s*(.+)$", raw, re.I | re.M)
    sm = re.search(r"^\W*summary\W*:\s*(.+?)(?=^\W*title\W*:|\Z)", raw, re.I | re.M | re.S)
    return (_clean(tm.group(1)) if tm else ""), (_clean(sm.group(1)) if sm else "")


def usable_title(title: str, max_words: int) -> bool:
    """Non-empty, within the limit, mostly letters, and not the template's placeholder.

    >>> usable_title("Making pasta", 8), usable_title("", 8), usable_title("<a chapter title>", 8)
    (True, False, False)
    """
    words = title.split()
    return (0 < len(words) <= max_words and _letters_ratio(title) >= 0.6
            and not re.search(r"[<>{}]|chapter title of|at most \d+ words", title, re.I))


def _stems(text: str) -> set[str]:
    """Content-word stems (first 4 letters of words of 3+ letters, stopwords dropped)."""
    return {w[:4] for w in re.findall(r"[a-z]{3,}", text.lower()) if w not in _STOP}


def grounded(text: str, source: str, min_share: float) -> bool:
    """Whether at least ``min_share`` of ``text``'s content stems occur in ``source`` (and one at least).

    A small model writes fluent titles about nothing in the video ("A Tale of Two Families"
    for a toddler in a sandbox); requiring shared words rejects those and keeps paraphrases.

    >>> grounded("Toddler plays in sandbox", "A toddler sits in a green sandbox.", 0.3)
    True
    >>> grounded("A Tale of Two Families", "A toddler sits in a green sandbox.", 0.01)
    False
    """
    stems = _stems(text)
    if not stems:
        return False
    shared = len(stems & _stems(source))
    return shared >= 1 and shared / len(stems) >= min_share


_GENERIC = re.compile(
    r"\b(?:summary of|summari[sz]es?|this (?:video|chapter|clip|segment|section|part)\b|the video'?s?\b|"
    r"in this (?:video|chapter|clip)|it includes|brief (?:summary|overview|description)|title of|"
    r"overview of|introduction to the|as an ai|i (?:cannot|can't))", re.I)
_RAW_OCR = re.compile(r"[|/\\]|\bchapter\s+\d+|\d")


def generic(text: str) -> bool:
    """Text about the video or the task rather than about what the chapter shows.

    >>> generic("This is a summary of the video. It includes the video's title."), generic("Bridges of Oslo")
    (True, False)
    """
    return bool(_GENERIC.search(text))


def raw_ocr_copy(title: str) -> bool:
    """A title that is on-screen text pasted whole: separators, a chapter number, digits.

    >>> raw_ocr_copy("Chapter 1 | INSECTS 1 | NUMBER 8639"), raw_ocr_copy("Insects of the meadow")
    (True, False)
    """
    return bool(_RAW_OCR.search(title))


def _inflections(words: set[str]) -> set[str]:
    """Each word and its forms without a regular suffix (dogs -> dog, catching -> catch)."""
    return words | {w[: -len(x)] for w in words for x in ("s", "es", "ed", "d", "ing")
                    if w.endswith(x) and len(w) - len(x) >= 3}


def ungrounded_words(text: str, source: str, inflect: bool = False) -> set[str]:
    """Content words of ``text`` that never occur in ``source`` (with ``inflect``: nor a form of them).

    >>> sorted(ungrounded_words("A dog catches a red frisbee in Oslo.", "The dog jumps to catch a red frisbee."))
    ['catches', 'oslo']
    >>> ungrounded_words("Dogs catching frisbees", "The dog jumps to catch a red frisbee.", inflect=True)
    set()
    """
    words, known = content_words(text), content_words(source)
    if not inflect:
        return words - known
    forms = _inflections(known)
    return {w for w in words if w not in known and not (_inflections({w}) & forms)}


def usable_summary(summary: str, max_words: int = 80) -> bool:
    """Short, mostly letters, no template echo, and not a small model's repetition loop.

    >>> usable_summary("A man paints a fence. Then he rests.")
    True
    >>> usable_summary("It is a short summary. It is a short summary. It is a short summary.")
    False
    """
    words = summary.split()
    sentences = [x.strip().lower() for x in re.split(r"(?<=[.!?])\s+", summary) if x.strip()]
    looping = len(sentences) >= 2 and len(set(sentences)) < len(sentences)
    return (3 <= len(words) <= max_words and _letters_ratio(summary) >= 0.6 and not looping
            and not re.search(r"[<>{}]|one or two sentences", summary, re.I))


class ChapterWriter:
    """Writes a chapter's title and summary; counts LLM calls and fallbacks for the run's cost."""

    def __init__(self, embedder: Embedder, llm: LLM | None = None, *, max_words: int = 8,
                 summary_sentences: int = 2, max_prompt_captions: int = 12, caption_words: int = 60,
                 max_new_tokens: int = 96, summary_words: int = 40) -> None:
        self.embedder = embedder
        self.llm = llm
        self.max_words = max_words
        self.summariser = ExtractiveSummariser(embedder, sentences=summary_sentences, budget_words=summary_words)
        self.max_prompt_captions = max_prompt_captions
        self.caption_words = caption_words
        self.max_new_tokens = max_new_tokens
        self.template = load_prompt()
        self.stats: dict[str, int] = {"llm_calls": 0, "llm_titles": 0, "llm_summaries": 0,
                                      "prompt_tokens": 0, "completion_tokens": 0}
        self.rejected: dict[str, int] = {"empty": 0, "unusable": 0, "generic": 0, "raw_ocr": 0, "ungrounded": 0,
                                      "not_card": 0}
        self.terms = TermStats([])

    def set_chapters(self, chapters: Sequence[Sequence[str]]) -> None:
        """The unit captions of every chapter of the video: what "distinctive" is measured against."""
        self.terms = TermStats([[t for t in ch if t] for ch in chapters])

    # -- extractive --------------------------------------------------------------------
    def extractive_title(self, texts: Sequence[str], raw: Sequence[Sequence[str]] = ()) -> str:
        """The first usable opening sentence of the most central unit.

        Units are ranked by how close their caption is to the chapter's centroid; candidates are
        the opening sentences of the units' original lines (``raw[i]`` for ``texts[i]``), since
        captioners state the subject first and qualify it after, else of the captions themselves.
        Only the unit captions are embedded, which the segmenter has already done (cache hits).
        """
        if not texts:
            return "Untitled"
        if fielded(texts):
            stats = self.terms if self.terms.df else TermStats([list(texts)])
            title = card_title(texts, stats) or term_title(texts, stats)
            if title:
                return " ".join(title.split()[: self.max_words])
        e = self.embedder.encode(list(texts))
        order = np.argsort(-(e @ e.mean(axis=0)), kind="stable")
        titles: list[str] = []
        for i in order[:3]:
            lines = list(raw[i]) if i < len(raw) and raw[i] else [texts[i]]
            for ln in lines:
                first = split_sentences(ln)
                if first:
                    titles.append(compress_title(first[0], self.max_words))
        return next((t for t in titles if len(t.split()) >= 3), next((t for t in titles if t), "Untitled"))

    def _card(self, texts: Sequence[str]) -> str:
        """The chapter card's title when the chapter shows one (on-screen fields), else ''."""
        if not texts or not fielded(texts):
            return ""
        return card_title(texts, self.terms if self.terms.df else TermStats([list(texts)])) or ""

    def extractive_summary(self, texts: Sequence[str]) -> str:
        return self.summariser([t for t in texts if t.strip()])

    def _check(self, text: str, source: str, usable: bool, *, is_title: bool) -> bool:
        """Keep an LLM title/summary only if usable, specific, not raw OCR and grounded; counts why not."""
        if not text:
            self.rejected["empty"] += 1
            return False
        why = ("unusable" if not usable else "generic" if generic(text)
               else "raw_ocr" if is_title and raw_ocr_copy(text)
               else "ungrounded" if ungrounded_words(text, source, inflect=is_title)
               or not grounded(text, source, 0.01) else "")
        if why:
            self.rejected[why] += 1
        return not why

    # -- LLM ------------------------------------------------------------------------------
    def prompt(self, texts: Sequence[str], span: tuple[float, float]) -> list[dict[str, Any]]:
        """Chat messages for one chapter: evenly spaced captions, each quoted as inert data."""
        idx = np.linspace(0, len(texts) - 1, min(len(texts), self.max_prompt_captions)).round().astype(int)
        picked = [texts[i] for i in dict.fromkeys(idx.tolist())] if texts else []
        lines = []
        for t in picked:
            short = " ".join(t.split()[: self.caption_words])
            lines.append("- " + quote(short, 2000))
        body = self.template.safe_substitute(captions="\n".join(lines), start=clock(span[0]),
                                             end=clock(span[1]), max_words=self.max_words)
        return [{"role": "user", "content": body}]

    def write(self, texts: Sequence[str], transcript: str = "", span: tuple[float, float] = (0.0, 0.0),
              raw: Sequence[Sequence[str]] = ()) -> Written:
        """Title + summary of one chapter from its units' captions (``raw[i]``: the original timed
        lines of unit ``i``, used for the extractive title because they open with their subject)."""
        keep = [i for i, t in enumerate(texts) if t and t.strip()]
        units, raw = [texts[i] for i in keep], [raw[i] for i in keep if i < len(raw)]
        texts = [*units, transcript] if transcript.strip() else units
        title, summary = "", ""
        if self.llm is not None and texts:
            try:
                reply = self.llm.chat(self.prompt(texts, span), max_new_tokens=self.max_new_tokens,
                                      temperature=0.0)
                self.stats["llm_calls"] += 1
                self.stats["prompt_tokens"] += reply.prompt_tokens
                self.stats["completion_tokens"] += reply.completion_tokens
                title, summary = parse_reply(reply.text if isinstance(reply.text, str) else "")
            except (RuntimeError, ValueError, TypeError):
                title, summary = "", ""
        source_text = " ".join([*texts, *(ln for r in raw for ln in r)])
        t_ok = self._check(title, source_text, usable_title(title, self.max_words), is_title=True)
        s_ok = self._check(summary, source_text, usable_summary(summary), is_title=False)
        card = self._card(units)
        words = re.compile(r"[a-z0-9]+")
        if t_ok and card and not set(words.findall(card.lower())) <= set(words.findall(title.lower())):
            # the video names its chapter on a card: an LLM title must keep that name
            self.rejected["not_card"] += 1
            t_ok = False
        self.stats["llm_titles"] += int(t_ok)
        self.stats["llm_summaries"] += int(s_ok)
        if not texts:
            return Written(title="Untitled", summary="", source="none")
        source: Literal["llm", "extractive", "mixed"] = (
            "llm" if t_ok and s_ok else "extractive" if not (t_ok or s_ok) else "mixed")
        return Written(title=title.rstrip(".") if t_ok else self.extractive_title(units or texts, raw),
                       summary=summary if s_ok else self.extractive_summary(texts), source=source)
