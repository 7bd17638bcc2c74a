"""Chapter boundaries: optimal segmentation of a sequence of caption embeddings.

Why a dynamic programme and not "cut at the K lowest adjacent similarities": 1-fps captions
of one scene are worded differently every second, so single adjacent-pair dips are noisy;
minimising the within-chapter scatter of the embeddings (sum of squared distances to the
chapter's centroid, as in C99-style optimal text segmentation) uses every unit of a chapter
as evidence and puts exactly ``k`` cuts where they explain most of the variation. Extra
signals enter as blocks of the feature matrix (transcript embeddings) or as a per-gap bonus
(shot cuts), and the minimum chapter length is a hard constraint of the programme, so no
post-hoc merge can move a boundary somewhere the evidence does not support.

The automatic count is penalised: ``k`` chapters cost ``total scatter + penalty * k``, so a
new chapter has to explain at least ``penalty`` units of embedding scatter (each unit's
scatter is at most 1 per normalised block). On dev composites of NExT-QA videos (seed 1, not
the benchmark's seed 0) ``penalty = 1`` picked the true count within +-0.6 chapters on average
with MiniLM (the hashing stand-in wants 1.5: ``chapters.PENALTY_BY_EMBEDDER``), while
TextTiling's depth-score cutoff (Hearst 1997, kept here as :func:`auto_count`) and a BIC-style
penalty were off by 1.3-3 chapters.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def segment_costs(x: np.ndarray) -> np.ndarray:
    """``C[a, b]`` = scatter of rows ``a..b-1`` around their mean (``inf`` where ``b <= a``).

    For rows ``x_i``: ``sum ||x_i - m||^2 = sum ||x_i||^2 - ||sum x_i||^2 / n``, computed for
    every (a, b) at once from prefix sums, so the whole matrix costs one Gram product.

    >>> c = segment_costs(np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]))
    >>> float(round(c[0, 2], 6)), float(round(c[0, 3], 6))
    (0.0, 1.333333)
    """
    n = x.shape[0]
    s = np.vstack([np.zeros((1, x.shape[1])), np.cumsum(x, axis=0)])
    sq = np.concatenate([[0.0], np.cumsum((x * x).sum(axis=1))])
    g = s @ s.T
    d = np.diag(g)
    a = np.arange(n + 1)
    length = a[None, :] - a[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (d[None, :] + d[:, None] - 2 * g) / length
        cost = (sq[None, :] - sq[:, None]) - between
    cost[length <= 0] = np.inf
    return np.maximum(cost, 0.0)


def feasible(starts: np.ndarray, ends: np.ndarray, min_seconds: float) -> np.ndarray:
    """``ok[a, b]``: units ``a..b-1`` span at least ``min_seconds``."""
    n = len(starts)
    dur = ends[None, :] - starts[:, None]  # dur[a, b-1]
    ok = np.zeros((n + 1, n + 1), dtype=bool)
    ok[:n, 1:] = dur >= min_seconds - 1e-9
    ok &= np.triu(np.ones_like(ok), 1)
    return ok


def optimal_cuts(cost: np.ndarray, k: int, bonus: np.ndarray | None = None) -> list[int] | None:
    """Unit indices where chapters 2..k start, minimising total cost minus cut bonuses.

    ``cost`` is ``(n+1, n+1)`` with ``inf`` for forbidden segments; ``bonus[g]`` rewards a
    cut before unit ``g``. ``None`` when no segmentation into ``k`` allowed segments exists.

    >>> c = segment_costs(np.array([[1.0, 0], [1, 0], [0, 1], [0, 1], [0, 1]]))
    >>> optimal_cuts(c, 2)
    [2]
    """
    n = cost.shape[0] - 1
    if k < 1 or k > n:
        return None
    b = np.zeros(n + 1) if bonus is None else np.asarray(bonus, dtype=float)
    best = np.full((k + 1, n + 1), np.inf)
    arg = np.zeros((k + 1, n + 1), dtype=int)
    best[0, 0] = 0.0
    for j in range(1, k + 1):
        prev = best[j - 1] - (b if j > 1 else 0.0)
        for end in range(j, n + 1):
            tot = prev[:end] + cost[:end, end]
            i = int(np.argmin(tot))
            best[j, end], arg[j, end] = tot[i], i
    if not np.isfinite(best[k, n]):
        return None
    cuts, end = [], n
    for j in range(k, 0, -1):
        end = int(arg[j, end])
        cuts.append(end)
    return sorted(c for c in cuts if c > 0)


def block_similarity(x: np.ndarray, window: int) -> np.ndarray:
    """Cosine between the mean of the ``window`` units before each gap and the ``window`` after.

    Entry ``g - 1`` is the gap before unit ``g`` (``g = 1..n-1``).
    """
    n = x.shape[0]
    out = np.ones(max(n - 1, 0))
    for g in range(1, n):
        left = x[max(0, g - window):g].mean(axis=0)
        right = x[g:g + window].mean(axis=0)
        den = float(np.linalg.norm(left) * np.linalg.norm(right))
        out[g - 1] = float(left @ right) / den if den > 0 else 1.0
    return out


def depth_scores(sim: Sequence[float] | np.ndarray) -> np.ndarray:
    """TextTiling depth: how far each gap's similarity lies below the peaks on either side.

    >>> depth_scores([0.9, 0.2, 0.8, 0.7, 0.9]).round(2).tolist()
    [0.0, 1.3, 0.0, 0.3, 0.0]
    """
    s = np.asarray(sim, dtype=float)
    out = np.zeros_like(s)
    for i, v in enumerate(s):
        lp = v
        for j in range(i - 1, -1, -1):
            if s[j] < lp:
                break
            lp = s[j]
        rp = v
        for j in range(i + 1, len(s)):
            if s[j] < rp:
                break
            rp = s[j]
        out[i] = (lp - v) + (rp - v)
    return out


def auto_count(x: np.ndarray, window: int, z: float, max_k: int) -> int:
    """Chapter count from the valleys of the block-similarity curve deeper than mean + z*std.

    Depth is measured over local minima only (plateaus inside one chapter are not valleys);
    at least one chapter, at most ``max_k``.
    """
    if x.shape[0] < 2:
        return 1
    sim = block_similarity(x, window)
    depth = depth_scores(sim)
    minima = [i for i in range(len(sim))
              if (i == 0 or sim[i] <= sim[i - 1]) and (i == len(sim) - 1 or sim[i] <= sim[i + 1])]
    vals = depth[minima]
    if len(vals) == 0 or float(vals.max()) <= 1e-9:
        return 1
    cut = float(vals.mean() + z * vals.std())
    deep = int((vals > cut).sum())
    return max(1, min(max_k, deep + 1))


def penalised_cuts(cost: np.ndarray, penalty: float, max_k: int, min_k: int = 1,
                   bonus: np.ndarray | None = None) -> list[int]:
    """Cuts for the ``k`` in ``[min_k, max_k]`` minimising ``total cost - bonuses + penalty * k``.

    >>> c = segment_costs(np.array([[1.0, 0], [1, 0], [0, 1], [0, 1], [1, 0], [1, 0]]))
    >>> penalised_cuts(c, 0.5, 5), penalised_cuts(c, 5.0, 5)
    ([2, 4], [])
    """
    n = cost.shape[0] - 1
    b = np.zeros(n + 1) if bonus is None else np.asarray(bonus, dtype=float)
    best: tuple[float, list[int]] | None = None
    for k in range(max(1, min_k), max(1, min(max_k, n)) + 1):
        cuts = optimal_cuts(cost, k, b)
        if cuts is None:
            break
        bounds = [0, *cuts, n]
        total = sum(float(cost[x, y]) for x, y in zip(bounds, bounds[1:], strict=False))
        total += penalty * k - float(b[cuts].sum() if cuts else 0.0)
        if best is None or total < best[0] - 1e-12:
            best = (total, cuts)
    return best[1] if best is not None else []
