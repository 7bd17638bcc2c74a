"""Cross-validated feature selection for the option scorer, on the TRAIN split only.

    OMP_NUM_THREADS=1 nice -n 15 python bench/answerer_cv.py               # every candidate
    OMP_NUM_THREADS=1 nice -n 15 python bench/answerer_cv.py --only base,rank

Candidates (feature lists, raw or derived: ``agent/scorer_extra.py``) are compared by 5-fold
cross-validation on the NExT-QA train questions grouped by video (no video in two folds), with
the generated train seeds (100-115) split into 5 folds by seed and pooled into each fold's fit
exactly as ``bench/fit_answerer.py`` pools them (NExT-QA all/top4/top8/top12, generated
all/nav/noev at weight 4). Dev questions and held-out seeds are never read here: the chosen
candidate is then fitted and measured on dev once by ``fit_answerer.py --features NAME``.

Printed per candidate: CV accuracy (%) on NExT-QA train folds for each reading, their mean, the
generated folds (all/nav/noev), and the paired difference to ``base`` over all NExT-QA readings
with its standard error (a question counted once per reading).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from videonav.agent.scorer import BASE_FEATURES, FEATURES
from videonav.agent.scorer_extra import SENT_FEATURES
from videonav.agent.scorer_features import COOC_FEATURES
from videonav.memory.split import split_of

sys.path.insert(0, str(Path(__file__).resolve().parent))
from answerer_gen import GEN_CONDS, parse_seeds  # noqa: E402
from fit_answerer import CONDS, DATA, design, fit_clogit, gen_features, nextqa_features  # noqa: E402

BASE = BASE_FEATURES + COOC_FEATURES
#: similarity features whose option-relative forms (z/m/r) are tried
SIM = ["qo_max", "qo_top3", "qo_mean", "o_max", "o_top3", "o_rel", "contrast", "contrast_qdb", "lex", "q_o"]
KEY = ["qo_max", "qo_top3", "o_rel", "contrast", "lex", "q_o"]
RAW = ["o_near", "o_dir", "lex_idf", "lex_near", "o_cent"]


def candidates() -> dict[str, list[str]]:
    c: dict[str, list[str]] = {"base": BASE}
    for r in RAW:
        c[f"+{r}"] = BASE + [r]
    c["+raw"] = BASE + RAW
    c["+z"] = BASE + [f"z:{s}" for s in SIM]
    c["+margin"] = BASE + [f"m:{s}" for s in SIM]
    c["+rank"] = BASE + [f"r:{s}" for s in SIM]
    c["+rank key"] = BASE + [f"r:{s}" for s in KEY]
    c["+margin key"] = BASE + [f"m:{s}" for s in KEY]
    for k in ("causal", "temporal", "where", "count"):
        c[f"+{k}*key"] = BASE + [f"{k}*{s}" for s in KEY]
    c["+kinds*key"] = BASE + [f"{k}*{s}" for k in ("causal", "temporal", "where", "count") for s in KEY]
    c["+z:o_len+o_cent"] = BASE + ["z:o_len", "z:o_cent", "o_cent"]
    c["+temporal*o_dir"] = BASE + ["o_dir", "temporal*o_dir", "temporal*o_near"]
    c["+lex_idf+lex_near"] = BASE + ["lex_idf", "lex_near", "z:lex_idf", "z:lex_near"]
    c["+sent"] = BASE + SENT_FEATURES
    c["+sent max"] = BASE + SENT_FEATURES[:4]
    c["+sent+z:sent"] = BASE + SENT_FEATURES + [f"z:{s}" for s in SENT_FEATURES]
    c["+sent+r:sent"] = BASE + SENT_FEATURES + [f"r:{s}" for s in SENT_FEATURES[:4]]
    c["+sent+o_cent"] = BASE + SENT_FEATURES + ["o_cent"]
    c["+sent+raw"] = BASE + SENT_FEATURES + RAW
    c["+sent+causal*key"] = BASE + SENT_FEATURES + [f"causal*{s}" for s in KEY]
    c["+sent+temporal*o_dir"] = BASE + SENT_FEATURES + ["o_dir", "temporal*o_dir", "temporal*o_near"]
    c["+sent+o_cent+causal*key"] = c["+sent+o_cent"] + [f"causal*{s}" for s in KEY]
    return c


def group_folds(groups: list, k: int, seed: int = 0) -> np.ndarray:
    """Fold id per row; every group (video / generator seed) lies in exactly one fold."""
    uniq = sorted(set(groups))
    perm = np.random.default_rng(seed).permutation(len(uniq))
    fold_of = {g: int(perm[i] % k) for i, g in enumerate(uniq)}
    return np.array([fold_of[g] for g in groups])


class CV:
    """The train-only data of one cross-validation: NExT-QA train rows and generated train seeds."""

    def __init__(self, data: Path, cache: Path, gen_dir: Path, gen_seeds: str, k: int = 5,
                 gen_weight: float = 4.0) -> None:
        rows, F = nextqa_features(data, cache)
        tr = np.array([split_of(r["video"]) == "train" for r in rows])
        self.F = {c: F[c][tr] for c in CONDS}
        self.y = np.array([int(r["answer"]) for r in rows])[tr]
        self.fold = group_folds([r["video"] for r, t in zip(rows, tr, strict=True) if t], k)
        recs, G, self.gmask = gen_features(parse_seeds(gen_seeds), gen_dir, cache)
        self.G, self.gy = G, np.array([r["answer"] for r in recs])
        self.gfold = group_folds([r["seed"] for r in recs], k)
        self.k, self.gen_weight = k, gen_weight
        self.full = np.ones(self.F["all"].shape[:2], dtype=bool)

    def run(self, names: list[str], l2: float = 1e-3) -> dict[str, np.ndarray]:
        """Held-out correctness per reading: {"all": (n_train,), ..., "gen all": (n_gen,), ...}."""
        D = {c: design(self.F[c], names, self.full) for c in CONDS}
        DG = {c: design(self.G[c], names, self.gmask) for c in GEN_CONDS}
        out = {c: np.zeros(len(self.y), dtype=bool) for c in CONDS}
        out.update({f"gen {c}": np.zeros(len(self.gy), dtype=bool) for c in GEN_CONDS})
        for f in range(self.k):
            a, b = self.fold != f, self.gfold != f
            Xs = [D[c][a] for c in CONDS] + [DG[c][b] for c in GEN_CONDS]
            ms = [self.full[a]] * len(CONDS) + [self.gmask[b]] * len(GEN_CONDS)
            ys = [self.y[a]] * len(CONDS) + [self.gy[b]] * len(GEN_CONDS)
            ws = [np.ones(a.sum())] * len(CONDS) + [np.full(b.sum(), self.gen_weight)] * len(GEN_CONDS)
            X, m = np.concatenate(Xs), np.concatenate(ms)
            mu, sd = X[m].mean(axis=0), X[m].std(axis=0)
            sd = np.where(sd < 1e-6, 1.0, sd)
            Z = np.where(m[:, :, None], (X - mu) / sd, 0.0)
            w = fit_clogit(Z, np.concatenate(ys), m, np.concatenate(ws), l2=l2)
            for c in CONDS:
                out[c][~a] = (((D[c][~a] - mu) / sd) @ w).argmax(axis=1) == self.y[~a]
            for c in GEN_CONDS:
                S = np.where(self.gmask[~b], ((DG[c][~b] - mu) / sd) @ w, -np.inf)
                out[f"gen {c}"][~b] = S.argmax(axis=1) == self.gy[~b]
        return out


def row(name: str, res: dict[str, np.ndarray], base: dict[str, np.ndarray] | None) -> str:
    pct = lambda v: f"{100 * v.mean():.1f}"  # noqa: E731
    nq = np.concatenate([res[c] for c in CONDS]).astype(float)
    cells = [pct(res[c]) for c in CONDS] + [pct(nq)] + [pct(res[f"gen {c}"]) for c in GEN_CONDS]
    if base is not None:
        d = nq - np.concatenate([base[c] for c in CONDS]).astype(float)
        # questions repeat across the 4 readings: the SE over questions (mean of their 4 diffs)
        dq = d.reshape(len(CONDS), -1).mean(axis=0)
        cells.append(f"{100 * dq.mean():+.2f} ± {100 * dq.std() / np.sqrt(len(dq)):.2f}")
    else:
        cells.append("-")
    return f"| {name} | " + " | ".join(cells) + " |"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/videonav_answer"))
    ap.add_argument("--gen-dir", type=Path, default=Path("/tmp/vn_gen"))
    ap.add_argument("--gen-train", default="100-115")
    ap.add_argument("--only", default="", help="comma-separated candidate names (default: all)")
    ap.add_argument("--l2", default="1e-3", help="comma-separated L2 strengths")
    args = ap.parse_args()
    if not (args.data / "val.csv").exists():
        sys.exit(f"NExT-QA val.csv not found under {args.data}: pass --data DIR (val.csv + captions_1fps.zip)")
    cands = candidates()
    pick = [c for c in args.only.split(",") if c] or list(cands)
    if unknown := [c for c in pick if c not in cands]:
        sys.exit(f"unknown candidates {unknown}: choose from {list(cands)}")
    assert all(n in FEATURES or ":" in n or "*" in n for c in pick for n in cands[c])
    cv = CV(args.data, args.cache, args.gen_dir, args.gen_train)
    print(f"{len(cv.y)} NExT-QA train questions in {cv.k} video-grouped folds; {len(cv.gy)} generated "
          f"(seeds {args.gen_train}, folds by seed)\n")
    print("| candidate | " + " | ".join(CONDS) + " | NExT-QA mean | " + " | ".join(f"gen {c}" for c in GEN_CONDS)
          + " | vs base (pp ± SE) |\n|---|" + "---|" * (len(CONDS) + len(GEN_CONDS) + 2), flush=True)
    base = cv.run(cands["base"])
    for l2 in (float(v) for v in args.l2.split(",")):
        for name in pick:
            res = base if name == "base" and l2 == 1e-3 else cv.run(cands[name], l2)
            print(row(name + ("" if l2 == 1e-3 else f" (l2 {l2:g})"), res, base), flush=True)


if __name__ == "__main__":
    main()
