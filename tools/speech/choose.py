"""Which of a question's options was *said*: closed-vocabulary decoding of the options in a clip's audio.

Why: free decoding of synthetic or noisy speech gets few content words right (WER 0.89 on the
generator's espeak-ng voice), and phone-string matching of the options (:mod:`.spot`) confuses
short words. But a multiple-choice question tells the decoder what to listen for: a JSGF grammar
``<ph>* [cue words] ( option1 | ... | option5 ) <ph>*`` (``<ph>`` = any one phone) forces the
decoder to pick exactly one option and lets a phone loop absorb everything else, which is a far
easier task than open decoding. Two steps, both in pocketsphinx:

1. **Where**: each speech window (a VAD segment joined with the next one when the gap is short,
   because a colon pause splits "the secret word: pillow") is scored by the log-likelihood ratio
   of the grammar against the phone loop alone. The question's cue words (``cue_words``: "What
   *secret word* did ...") precede the options in the grammar, so the window that actually says
   them wins (the cue words are required; without cue words, or when no window gives them a
   hypothesis, the options alone); both paths cover the same frames, so windows compare.
2. **Which**: in the best window each option is aligned alone (same grammar, one option) and the
   options are ranked by their score; the margin between the best two is the confidence.

Measured (``bench/asr.py``, ``bench/results/asr.txt``): on the spoken-word questions of 8 narrated
20-minute generated videos (seeds 200-207, 32 questions, the question's chapter as the span) the
right window is found 32/32 times and the right option 29/32 (91%; phone spotting 50%, free
decoding 0%, chance 20%), at about 27x real time per chapter on one core. Settings were chosen on
seeds 100-112. The read it yields holds only dictionary words of the question's cue and options,
so text from audio cannot carry instructions; it is data for the answerer.

Pocketsphinx 5.1.1 details that matter: ``bestpath=False`` (the lattice best path drops the
grammar's final word), very wide beams (a forced cue word in a window that does not say it is
otherwise pruned before the grammar's end and no hypothesis comes back), scores summed from
``seg()`` (``hyp().score`` is a probability that underflows to 0 on windows over ~10 s).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from videonav.tools.speech.audio import pcm16, speech_segments
from videonav.tools.speech.sphinx import decoder, model_dir
from videonav.tools.speech.spot import pronunciations

PHONES = ("AA AE AH AO AW AY B CH D DH EH ER EY F G HH IH IY JH K L M N NG OW OY P R S SH T TH UH UW V W "
          "Y Z ZH").split()
RATE = 16000
JOIN_GAP = 1.5
"""Seconds: a segment is joined with the next when the pause between them is shorter."""
PAD = 0.3
"""Seconds of context either side of a window (the decoder needs silence to start and end on)."""
BEAM = 1e-200
MIN_LLR = -1500.0
"""A window whose cue-word grammar scores this far (pocketsphinx log units) below the phone loop does
not say the cue words. Fitted on generator seeds 110-111: windows that say "secret word" scored
-1024..178, chapters with that sentence silenced -2271..-2062."""
_LOG_BASE = math.log(1.0001)  # pocketsphinx's logmath base: scores in its integer units
_WORD = re.compile(r"[a-z']+")
_AUX = {"did", "does", "do", "was", "were", "is", "are", "has", "have", "had", "can", "could", "will", "would"}
_STOP = {"what", "which", "who", "whom", "whose", "the", "a", "an", "of", "that", "this", "these", "those", "kind"}


@dataclass(frozen=True)
class Spotted:
    """The option heard, where, and how clearly (``margin``: log-likelihood units over the runner-up;
    ``llr``: the window's grammar score over the phone loop's, higher where the cue words are said)."""

    index: int
    option: str
    start: float
    end: float
    margin: float
    heard: str
    scores: tuple[float, ...]
    llr: float = 0.0
    cued: bool = False
    """The question's cue words were heard in the window (``llr >= MIN_LLR``): the option is evidence."""

    def text(self) -> str:
        """The read the answerer gets: what the decoder heard (cue words + option), quoted, timed."""
        return (f'Speech (spotted): "{self.heard}" at {self.start:.1f}-{self.end:.1f} s '
                "(heard in the audio; the options were the vocabulary).")


def cue_words(question: str, options: Sequence[str] = (), cfg: Any = None) -> list[str]:
    """The words a question quotes about what was said: between its wh-word and its first auxiliary.

    >>> cue_words("What secret word did the narrator say during the chapter on Deserts?")
    ['secret', 'word']
    >>> cue_words("Why did the man laugh?")
    []
    """
    words = _WORD.findall(question.lower())
    if not words or words[0] not in ("what", "which"):
        return []
    out = []
    for w in words[1:]:
        if w in _AUX:
            break
        out.append(w)
    else:
        return []
    d = pronunciations(str(model_dir(cfg)))
    opt = {w for o in options for w in _WORD.findall(o.lower())}
    return [w for w in out if w not in _STOP and w not in opt and w in d][:4]


def windows(audio: np.ndarray, sample_rate: int = RATE) -> list[tuple[float, float]]:
    """Speech segments, each joined with the next when the pause is under ``JOIN_GAP`` (seconds)."""
    segs = speech_segments(audio, sample_rate)
    out = []
    for i, (a, b) in enumerate(segs):
        if i + 1 < len(segs) and segs[i + 1][0] - b < JOIN_GAP:
            b = segs[i + 1][1]
        out.append((a, b))
    return out


class OptionSpotter:
    """Closed-vocabulary option decoding on one pocketsphinx decoder (loaded on first use)."""

    def __init__(self, cfg: Any = None, beam: float = BEAM) -> None:
        self.cfg, self.beam = cfg, beam
        self._dec: Any = None
        self._n = 0

    def _decoder(self) -> Any:
        if self._dec is None:
            b = self.beam
            self._dec = decoder(self.cfg, beam=b, pbeam=b, wbeam=b, bestpath=False, compallsen=True)
            for p in PHONES:  # one dictionary word per phone: the garbage loop of the grammars
                self._dec.add_word("ph_" + p.lower(), p, p == PHONES[-1])
        return self._dec

    def vocabulary(self, text: str) -> list[str]:
        """``text``'s words as dictionary words, or [] when one is unknown (it cannot be decoded)."""
        d = pronunciations(str(model_dir(self.cfg)))
        words = _WORD.findall(text.lower())
        return words if words and all(w in d for w in words) else []

    def _decode(self, body: str, raw: bytes) -> tuple[list[str], float]:
        """(words, log score) of ``raw`` under ``public <s> = body``; ([], -inf) without a hypothesis."""
        dec = self._decoder()
        self._n += 1
        name = f"g{self._n % 8}"
        phones = " | ".join("ph_" + p.lower() for p in PHONES)
        dec.add_jsgf_string(name, f"#JSGF V1.0;\ngrammar {name};\n<ph> = {phones};\npublic <s> = {body};\n")
        dec.activate_search(name)
        dec.start_utt()
        dec.process_raw(raw, full_utt=True)
        dec.end_utt()
        hyp = dec.hyp()
        if hyp is None:
            return [], -math.inf
        total = 0.0
        for s in dec.seg() or []:
            if s.ascore <= 0 or s.lscore <= 0:
                return [], -math.inf
            total += math.log(s.ascore) + math.log(s.lscore)
        words = [re.sub(r"\(\d+\)$", "", w) for w in hyp.hypstr.split()]
        return [w for w in words if not w.startswith("ph_")], total / _LOG_BASE

    def _locate(self, audio: np.ndarray, wins: list[tuple[float, float]], alts: list[str],
                prefix: str) -> tuple[float, float, float, bytes] | None:
        """(log-likelihood ratio, start, end, pcm) of the window where ``prefix (alts)`` beats the
        phone loop by most; None when no window gives the grammar a hypothesis."""
        grammar = f"<ph>* {prefix} ( {' | '.join(dict.fromkeys(alts))} ) <ph>*"
        best: tuple[float, float, float, bytes] | None = None
        for a, b in wins:
            raw = pcm16(audio[max(0, int((a - PAD) * RATE)) : int((b + PAD) * RATE)])
            _, s = self._decode(grammar, raw)
            if not math.isfinite(s):
                continue
            _, base = self._decode("<ph>*", raw)
            if math.isfinite(base) and (best is None or s - base > best[0]):
                best = (s - base, a, b, raw)
        return best

    def choose(self, audio: np.ndarray, options: Sequence[str], cue: Sequence[str] = (),
               offset: float = 0.0, sample_rate: int = RATE) -> Spotted | None:
        """The option said in ``audio`` (16 kHz mono; times reported + ``offset``), or None when no
        option can be decoded (unknown words, no speech)."""
        if sample_rate != RATE:
            raise ValueError(f"option spotting expects {RATE} Hz audio, got {sample_rate} Hz")
        vocab = [" ".join(self.vocabulary(o)) for o in options]
        alts = [v for v in vocab if v]
        wins = windows(audio, sample_rate)
        if not alts or not wins:
            return None
        best = self._locate(audio, wins, alts, " ".join(cue)) if cue else None
        prefix = " ".join(cue) if best is not None else ""
        if best is None:  # no cue, or no window says it: the options alone
            best = self._locate(audio, wins, alts, "")
        if best is None:
            return None
        llr, a, b, raw = best
        scores, heard = [], []
        for v in vocab:
            words, s = self._decode(f"<ph>* {prefix} ( {v} ) <ph>*", raw) if v else ([], -math.inf)
            scores.append(s)
            heard.append(" ".join(words))
        order = sorted(range(len(scores)), key=lambda i: -scores[i])
        if not math.isfinite(scores[order[0]]):
            return None
        i = order[0]
        second = scores[order[1]] if len(order) > 1 else -math.inf
        margin = scores[i] - second if math.isfinite(second) else math.inf
        return Spotted(index=i, option=options[i], start=a + offset, end=b + offset, margin=float(margin),
                       heard=heard[i], scores=tuple(float(s) for s in scores), llr=float(llr),
                       cued=bool(prefix) and llr >= MIN_LLR)


SPEECH_VERBS = {"say", "said", "says", "saying", "mention", "mentioned", "mentions", "speak", "spoke", "spoken",
                "hear", "heard", "tell", "told", "narrator", "announce", "announced", "call", "called"}
"""A question containing one of these asks about what was *said*: only then is the audio searched."""
MAX_AUDIO = 900.0
"""Seconds of visited audio searched at most per question (about 3 minutes of CPU on the en-us model)."""
_SPOTTER: OptionSpotter | None = None


def asks_about_speech(question: str) -> bool:
    """Whether ``question`` asks what was said (one of :data:`SPEECH_VERBS`).

    >>> asks_about_speech("What secret word did the narrator say?"), asks_about_speech("What colour is it?")
    (True, False)
    """
    return bool(SPEECH_VERBS & set(_WORD.findall(question.lower())))


def _merge(spans: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[list[float]] = []
    for a, b in sorted((float(a), float(b)) for a, b in spans if b > a):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def focus_parts(tree: Any, spans: Sequence[tuple[float, float]], question: str = "") -> list[tuple[float, float]]:
    """The span of the top-level part ``question`` names, else of the part(s) of ``tree`` holding the
    most of ``spans`` (by midpoint). A part is named when its caption says the question's words
    that some but not all part captions contain ("the chapter on *Insects*") most often.

    Why: the planner's visited leaves sample a part; the sentence asked about may sit in a leaf of
    that part it did not read. A whole part (a chapter of a chaptered video) is where the question
    points, and one part keeps other parts' similar sentences (every chapter has a secret word)
    out of the search. Without a tree: ``spans`` unchanged."""
    parts = tree.children(tree.root.id) if tree is not None and hasattr(tree, "children") else []
    if not parts or not spans:
        return list(spans)
    caps = [Counter(_WORD.findall((n.caption or "").lower())) for n in parts]
    words = {w for w in _WORD.findall(question.lower()) if len(w) > 3 and w not in _STOP}
    words = {w for w in words if any(c[w] for c in caps) and not all(c[w] for c in caps)}
    named = [sum(c[w] for w in words) for c in caps]  # occurrences: a part that merely overlaps says it once
    best = max(named, default=0)
    if best > 0 and named.count(best) == 1:
        n = parts[named.index(best)]
        return [(n.start, n.end)]
    keep = {i for i, v in enumerate(named) if v == best} if best > 0 else set(range(len(parts)))
    count: dict[int, int] = {}
    for a, b in spans:
        mid = (a + b) / 2
        for i, n in enumerate(parts):
            if (n.start <= mid < n.end or (i == len(parts) - 1 and mid == n.end)) and i in keep:
                count[i] = count.get(i, 0) + 1
                break
    if not count:
        return [(parts[i].start, parts[i].end) for i in sorted(keep)] if best > 0 else list(spans)
    top = max(count.values())
    return [(parts[i].start, parts[i].end) for i in sorted(count) if count[i] == top]


def spoken_reads(source: Any, question: str, options: Sequence[str],
                 spans: Sequence[tuple[float, float]]) -> list[tuple[float, float, str]]:
    """``(start, end, text)`` evidence for a multiple-choice question about speech, from the audio of
    the part the visited ``spans`` point to (:func:`focus_parts`), when the video has an audio track
    but no subtitles (its speech cues, if any, came from free ASR, which misses the content words
    this recovers).

    Empty for text trees, videos with subtitles or without audio, questions not about speech or
    without cue words, visited audio where the cue words are not heard (``MIN_LLR``: a guess there
    would be confident noise), and audio that cannot be read (the answer rests on the captions)."""
    global _SPOTTER
    info = getattr(source, "info", None)
    meta = getattr(getattr(source, "tree", None), "meta", None) or {}
    label = str(meta.get("subtitles") or "")
    if (info is None or not getattr(info, "has_audio", False) or (label and not label.startswith("speech:"))
            or not options or not asks_about_speech(question)):
        return []
    spans = _merge(focus_parts(getattr(source, "tree", None), spans, question))
    if not spans:
        return []
    from videonav.tools.speech.audio import load_audio
    from videonav.tools.speech.base import AsrError

    try:
        cue = cue_words(question, options)
        if not cue:
            return []
        _SPOTTER = _SPOTTER or OptionSpotter()
        audio = load_audio(info.path)
        pieces, offsets, used = [], [], 0.0
        for a, b in spans:
            b = min(b, a + MAX_AUDIO - used)
            if b <= a:
                break
            pieces.append(audio[int(a * RATE) : int(b * RATE)])
            offsets.append(a)
            used += b - a
        found = [s for x, a in zip(pieces, offsets, strict=True)
                 if (s := _SPOTTER.choose(x, options, cue, offset=a)) is not None and s.cued]
    except AsrError:
        return []
    if not found:
        return []
    s = max(found, key=lambda f: f.llr)
    return [(s.start, s.end, s.text())]
