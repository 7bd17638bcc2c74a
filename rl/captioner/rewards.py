"""SCST rewards: CIDEr-D of a sampled caption minus CIDEr-D of the greedy caption.

Why a pure re-implementation next to pycocoevalcap's: the reward is computed thousands of times
per epoch against *training* document frequencies that are fixed once (as in Rennie et al.'s
SCST and the "secretly video captioners" recipe); pycocoevalcap recomputes them from whatever
it is handed. The arithmetic is coco-caption's ``CiderD`` exactly (tf-idf n-gram vectors for
n = 1..4, clipped overlap, Gaussian length penalty with sigma 6, mean over n and references,
x10); tests check it against pycocoevalcap on the same corpus.

>>> cider = CiderD({"a": ["a red square moves right"], "b": ["a blue circle on a green slide"]})
>>> round(cider.score("a red square moves right", ["a red square moves right"]), 6)
10.0
>>> cider.score("a blue circle", ["a red square moves right"])
0.0
>>> scst_rewards(["a red square", "a blue circle"], ["a red circle", "a red circle"],
...              [["a red square moves right"], ["a red square moves right"]], cider)[1] < 0
True
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence

from videonav.agent.evaluation.caption_metrics import simple_tokenize

SIGMA = 6.0
N = 4


def ngram_counts(text: str, n: int = N) -> Counter[tuple[str, ...]]:
    """All 1..n-grams of the simple-tokenised text with counts.

    >>> sorted(ngram_counts("a b a", 2).items())
    [(('a',), 2), (('a', 'b'), 1), (('b',), 1), (('b', 'a'), 1)]
    """
    words = simple_tokenize(text).split()
    return Counter(tuple(words[i:i + k]) for k in range(1, n + 1) for i in range(len(words) - k + 1))


class CiderD:
    """CIDEr-D with document frequencies fixed from a reference corpus ``{clip: [refs]}``."""

    def __init__(self, corpus: Mapping[str, Sequence[str]]) -> None:
        if not corpus:
            raise ValueError("CIDEr-D needs a non-empty reference corpus for its document frequencies")
        self.df: Counter[tuple[str, ...]] = Counter()
        for refs in corpus.values():
            self.df.update({g for r in refs for g in ngram_counts(r)})
        self.log_docs = math.log(float(len(corpus)))

    def _vec(self, counts: Counter[tuple[str, ...]]) -> tuple[list[dict[tuple[str, ...], float]], list[float], int]:
        vec: list[dict[tuple[str, ...], float]] = [{} for _ in range(N)]
        norm = [0.0] * N
        length = 0
        for g, tf in counts.items():
            k = len(g) - 1
            w = float(tf) * (self.log_docs - math.log(max(1.0, float(self.df[g]))))
            vec[k][g] = w
            norm[k] += w * w
            if k == 1:  # coco-caption counts bigrams here (its `n == 1` on a 0-based index)
                length += tf
        return vec, [math.sqrt(x) for x in norm], length

    def score(self, candidate: str, refs: Sequence[str]) -> float:
        """CIDEr-D of one candidate against its references (0 when it shares no informative n-gram)."""
        if not refs:
            raise ValueError("CIDEr-D needs at least one reference caption")
        vh, nh, lh = self._vec(ngram_counts(candidate))
        total = 0.0
        for ref in refs:
            vr, nr, lr = self._vec(ngram_counts(ref))
            penalty = math.exp(-((lh - lr) ** 2) / (2 * SIGMA ** 2))
            for k in range(N):
                val = sum(min(w, vr[k][g]) * vr[k][g] for g, w in vh[k].items() if g in vr[k])
                if nh[k] != 0 and nr[k] != 0:
                    val /= nh[k] * nr[k]
                total += val * penalty
        return total / N / len(refs) * 10.0


def scst_rewards(sampled: Sequence[str], greedy: Sequence[str], refs: Sequence[Sequence[str]],
                 cider: CiderD) -> list[float]:
    """Self-critical advantage per sample: CIDEr-D(sample) - CIDEr-D(greedy of the same clip).

    ``greedy`` and ``refs`` are aligned with ``sampled`` (repeat them for several samples per clip).

    >>> c = CiderD({"x": ["red square"], "y": ["blue circle"]})
    >>> [round(r, 3) for r in scst_rewards(["red square", "blue"], ["red", "blue circle"],
    ...                                    [["red square"], ["blue circle"]], c)]
    [3.257, -3.257]
    """
    if not (len(sampled) == len(greedy) == len(refs)):
        raise ValueError(f"sampled ({len(sampled)}), greedy ({len(greedy)}) and refs ({len(refs)}) must align")
    return [cider.score(s, r) - cider.score(g, r) for s, g, r in zip(sampled, greedy, refs, strict=True)]
