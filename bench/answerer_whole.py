"""The whole-video option model and its transfer check, used by ``bench/fit_answerer.py``.

Whole-video questions ("What is the overall goal of C's actions?") are scored by a small model
over aggregate features only (``WHOLE_FEATURES``, z-scored across the options; see
``agent/scorer.py``). NExT-QA has almost no such questions, so its weights are fitted on the same
NExT-QA train rows as the main model, restricted to those features; the synthetic egocentric
set of ``bench/ego_synth.py`` is only *evaluated* (a behaviour check of the transfer to the
hidden EgoSchema-like set), never fitted.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from videonav.agent.scorer import FEATURES, WHOLE_FEATURES, OptionScorer, option_zscore
from videonav.agent.scorer_features import whole_video

#: readings of the synthetic set: every caption, the 12 most similar to question + options
#: (search-k), 12 evenly spaced (uniform-k)
EGO_CONDS = ["all", "top12", "uni12"]


def whole_matrix(X: np.ndarray) -> np.ndarray:
    """(n, 5, f) features -> (n, 5, len(WHOLE_FEATURES)) z-scored across options."""
    return option_zscore(X[:, :, [FEATURES.index(n) for n in WHOLE_FEATURES]])


def fit_whole(Xs: list[np.ndarray], ys: list[np.ndarray], fit_clogit: Callable, fit_calib: Callable,
              about: str) -> dict:
    """Weights of the whole-video model (stored as ``"whole_video"`` in scorer_weights.json)."""
    Z = np.concatenate([whole_matrix(X) for X in Xs])
    y = np.concatenate(ys)
    m = np.ones(Z.shape[:2], dtype=bool)
    w = fit_clogit(Z, y, m, np.ones(len(y)))
    a, b = fit_calib(Z @ w, y, m)
    return {"about": about, "features": {n: round(float(v), 6) for n, v in zip(WHOLE_FEATURES, w, strict=True)},
            "zscore": True, "calib": [round(a, 6), round(b, 6)]}


def whole_scores(sub: dict, X: np.ndarray) -> np.ndarray:
    return whole_matrix(X) @ np.asarray([sub["features"][n] for n in WHOLE_FEATURES], dtype=float)


def whole_confidence(sub: dict, S: np.ndarray) -> np.ndarray:
    srt = np.sort(S, axis=1)
    a, b = sub["calib"]
    return 1.0 / (1.0 + np.exp(-(a * (srt[:, -1] - srt[:, -2]) + b)))


def routed(questions: list[str], main: np.ndarray, sub: dict, X: np.ndarray) -> np.ndarray:
    """Scores as deployed: whole-video questions by the whole-video model, the rest by the main one."""
    mask = np.array([whole_video(q) for q in questions])
    return np.where(mask[:, None], whole_scores(sub, X), main) if mask.any() else main


def ego_features(n: int = 60, seed: int = 0, hard: bool = False) -> tuple[list[str], dict[str, np.ndarray], np.ndarray]:
    """Questions, {reading: (n, 5, f)} and truths of the synthetic egocentric set (MiniLM, as deployed:
    the scorer normalises the narrations itself)."""
    from ego_synth import make_set

    from videonav.agent.scorer_features import is_narration, normalise_narration
    from videonav.tools.embed import MiniLMEmbedder

    emb = MiniLMEmbedder()
    scorer = OptionScorer(emb)
    qs, caps = make_set(n, seed, hard)
    out: dict[str, list[np.ndarray]] = {c: [] for c in EGO_CONDS}
    questions, truth = [], []
    for k, r in qs.items():
        opts = [r[f"option {i}"] for i in range(5)]
        c = caps[k]
        norm = [normalise_narration(t) for t in c] if is_narration(c) else c
        qo = emb.encode([f"{normalise_narration(r['question'])} {normalise_narration(o)}" for o in opts])
        top = np.sort(np.argsort(-(qo @ emb.encode(norm).T).mean(axis=0), kind="stable")[:12])
        uni = np.linspace(0, len(c) - 1, 12).round().astype(int)
        for cond, sel in (("all", range(len(c))), ("top12", top), ("uni12", uni)):
            out[cond].append(scorer.features(r["question"], opts, [c[j] for j in sel]))
        questions.append(r["question"])
        truth.append(int(r["truth"]))
    return questions, {c: np.stack(v) for c, v in out.items()}, np.array(truth)


def report(models: dict, sub: dict, F: dict[str, np.ndarray], y: np.ndarray, dev: np.ndarray,
           questions: list[str], acc: Callable, ece: Callable, n_ego: int = 60) -> None:
    """Print the whole-video tables: NExT-QA dev and the synthetic egocentric set, MiniLM mean beside."""
    qd = [q for q, d in zip(questions, dev, strict=True) if d]
    flagged = np.array([whole_video(q) for q in qd])
    print(f"\n## Whole-video model ({'+'.join(WHOLE_FEATURES)}, z-scored across options; fitted on NExT-QA train)\n")
    print(f"NExT-QA dev questions the wording calls whole-video: {int(flagged.sum())} of {len(qd)}\n")
    conds = [c for c in ("all", "top12", "long", "long12") if c in F]
    print("| NExT-QA dev | " + " | ".join(conds) + " |\n|---|" + "---|" * len(conds))
    j = FEATURES.index("qo_mean")
    print("| qo_mean (MiniLM mean sim) | " + " | ".join(f"{acc(F[c][dev][:, :, j], y[dev]):.1f}" for c in conds) + " |")
    print("| whole-video model, every question | " + " | ".join(
        f"{acc(whole_scores(sub, F[c][dev]), y[dev]):.1f}" for c in conds) + " |")
    for name, m in models.items():
        print(f"| {name}, as deployed (whole-video questions routed) | " + " | ".join(
            f"{acc(routed(qd, m.scores(F[c][dev]), sub, F[c][dev]), y[dev]):.1f}" for c in conds) + " |")
    for hard in (False, True):
        ego_table(models, sub, acc, ece, n_ego, hard)


def ego_table(models: dict, sub: dict, acc: Callable, ece: Callable, n_ego: int, hard: bool) -> None:
    j = FEATURES.index("qo_mean")
    qe, E, ye = ego_features(n_ego, hard=hard)
    print(f"\n## Synthetic egocentric set{' (hard)' if hard else ''} (bench/ego_synth.py, {len(ye)} videos x 180 "
          "narrations, seed 0): accuracy (%) / ECE; a behaviour check, never fitted\n")
    print(f"whole-video by wording: {sum(whole_video(q) for q in qe)} of {len(qe)}\n")
    print("| scorer | " + " | ".join(EGO_CONDS) + " |\n|---|" + "---|" * len(EGO_CONDS))
    print("| qo_mean (MiniLM mean sim) | " + " | ".join(f"{acc(E[c][:, :, j], ye):.0f}" for c in EGO_CONDS) + " |")
    rows = {f"{name} (main model alone)": (lambda X, m=m: m.scores(X), lambda S, m=m: m.confidence(S))
            for name, m in models.items()}
    rows["whole-video model (as deployed here)"] = (lambda X: whole_scores(sub, X),
                                                    lambda S: whole_confidence(sub, S))
    for name, (score, conf) in rows.items():
        cells = []
        for c in EGO_CONDS:
            S = score(E[c])
            cells.append(f"{acc(S, ye):.0f} / {ece(conf(S), (S.argmax(axis=1) == ye).astype(float)):.2f}")
        print(f"| {name} | " + " | ".join(cells) + " |")
