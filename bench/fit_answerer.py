"""Fit the offline option scorer (``agent/scorer.py``) on NExT-QA train + generated videos.

    OMP_NUM_THREADS=1 python bench/fit_answerer.py --features +sent            # tables only; caches under /tmp
    OMP_NUM_THREADS=1 python bench/fit_answerer.py --features +sent --write    # also rewrite agent/scorer_weights.json

``--features`` names a feature list of ``bench/answerer_cv.py``, which picks it by cross-validation on
the train split (dev is only measured here); the default is the one chosen in session 6.
Data: NExT-QA ``val.csv`` + ``captions_1fps.zip`` (``--data``), split by ``memory.split.split_of``
(the WHOLE train split is fitted, dev only evaluated), plus generated 10-minute sample videos of
seeds ``--gen-train`` (from 100-199) and ``--gen-eval`` (from 200-299; never fitted), see
``bench/answerer_gen.py``. MiniLM vectors and feature matrices (per feature-code hash) are cached
under ``--cache``. Deterministic: seeded sampling, full-batch L-BFGS from zero in float64.

Reading conditions. NExT-QA: ``all`` 1-fps captions, ``top4/8/12`` retrieved by cosine to question
+ options (time order); ``long``/``long12``: each dev question's video spliced into other dev
videos to 180 captions (``bench/navigation.py build_long``, seed 0), all of them / the top 12:
a proxy of the hidden 180-caption set. Generated: ``all``/``nav``/``noev`` (answerer_gen). The fit
pools NExT-QA all/top4/top8/top12 and generated all/nav/noev (weight ``--gen-weight``); confidence
= sigmoid(a * top-2 margin + b) on the same pool; ECE: 10 equal-width bins; ``before`` = ``--baseline``.
Tables: bench/results/answerer_refit.txt. Whole-video questions: their own model (answerer_whole.py,
checked on the synthetic egocentric set of ego_synth.py, never fitted on it). All 3855 train / 1141 dev,
session 6 (``--features +sent``, sentence-level similarity features):

    NExT-QA dev, all captions          55.8%  as deployed 55.6% (19 dev questions routed to the whole-video model)
    spliced 180 captions, all / top12  49.8 / 49.6%  (MiniLM mean sim qo_mean 23.7 / 36.8%)
    synthetic egocentric, all / uni12  whole-video model 93 / 95%, main model alone 40 / 78%, MiniLM mean 95 / 92%
    generated held-out all 80.9%; ECE dev all 0.018, generated nav 0.079
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from videonav.agent.scorer import BASE_FEATURES, FEATURES, GENERIC_TEXTS, WEIGHTS_PATH
from videonav.agent.scorer_extra import column
from videonav.agent.scorer_features import COOC_FEATURES
from videonav.memory.formats import CaptionSource
from videonav.memory.split import split_of
from videonav.tools.embed import MiniLMEmbedder

sys.path.insert(0, str(Path(__file__).resolve().parent))
from answerer_feats import Featuriser, embed_cached, gen_features, sentence_vectors  # noqa: E402
from answerer_gen import GEN_CONDS, parse_seeds  # noqa: E402
from answerer_whole import fit_whole  # noqa: E402
from answerer_whole import report as report_whole  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "nextqa"
CONDS = ["all", "top4", "top8", "top12"]
EVAL_CONDS = CONDS + ["long", "long12"]
WRITTEN = "refit chosen (written)"
GEN_TYPES = ["colour-number", "city", "spoken-word", "chapter-order", "number-chapter", "colour-shape"]


def video_order(videos: list[str]) -> list[str]:
    """Dev and train videos alternating, each in a fixed shuffled order (seeds 1 and 0): the order
    in which caption vectors are cached (kept from the first fit so the cache stays valid)."""
    dev = [v for v in sorted(videos) if split_of(v) == "dev"]
    train = [v for v in sorted(videos) if split_of(v) == "train"]
    dev = [dev[i] for i in np.random.default_rng(1).permutation(len(dev))]
    train = [train[i] for i in np.random.default_rng(0).permutation(len(train))]
    return [v for pair in zip(dev, train, strict=False) for v in pair] + train[len(dev):]


def feature_version() -> str:
    """Hash of the feature code: cached feature matrices are rebuilt when it changes."""
    h = hashlib.sha1(" ".join(FEATURES).encode())
    for mod in ("scorer.py", "scorer_features.py", "scorer_extra.py"):
        h.update((ROOT / "agent" / mod).read_bytes())
    return h.hexdigest()[:10]


def nextqa_features(data: Path, cache: Path, max_videos: int | None = None,
                    cached_only: bool = False) -> tuple[list[dict], dict[str, np.ndarray]]:
    """Rows of val.csv and {condition: (n_rows, 5, n_features)}; long conditions for dev rows only
    (``max_videos``: only the first N videos of video_order(); ``cached_only``: only videos whose
    caption vectors are cached: both for compute budgets, the report says what was used)."""
    from navigation import build_long

    from videonav.agent.evaluation.datasets import load_nextqa

    all_rows = list(csv.DictReader(open(data / "val.csv", encoding="utf-8")))
    videos = video_order(sorted({r["video"] for r in all_rows}))[:max_videos]
    if cached_only:
        videos = [v for v in videos if (cache / "caps" / f"{v}.npy").exists()]
    rows = [r for r in all_rows if r["video"] in set(videos)]
    keyed = cache / "qa_keyed.npz"          # text -> vector store, filled incrementally
    known: dict[str, np.ndarray] = {}
    if cached_only and keyed.exists():
        z = np.load(keyed)
        known = dict(zip(z["texts"].tolist(), z["vecs"], strict=True))
        rows = [r for r in rows if all(x in known for x in [r["question"], *(r[f"a{i}"] for i in range(5)),
                                                             *(f"{r['question']} {r[f'a{i}']}" for i in range(5))])]
        videos = [v for v in videos if v in {r["video"] for r in rows}]
    ver = feature_version() + ("" if max_videos is None else f"_v{max_videos}") + (f"_c{len(rows)}" if
                                                                                    cached_only else "")
    paths = {c: cache / f"feats_{ver}_{c}.npy" for c in EVAL_CONDS}
    if all(p.exists() for p in paths.values()):
        return rows, {c: np.load(p) for c, p in paths.items()}
    src = CaptionSource(data / "captions_1fps.zip")
    emb = MiniLMEmbedder()
    qa = list(dict.fromkeys([r["question"] for r in all_rows] + [r[f"a{i}"] for r in all_rows for i in range(5)]
                            + [f"{r['question']} {r[f'a{i}']}" for r in all_rows for i in range(5)] + GENERIC_TEXTS))
    vecs = known or dict(zip(qa, embed_cached(emb, qa, cache / "qa.npy"), strict=True))
    (cache / "caps").mkdir(exist_ok=True)
    caps: dict[str, list[str]] = {}
    for v in videos:     # one vector file per video (resumable)
        caps[v] = list(dict.fromkeys(t.text for t in src.get(v)))
        vecs.update(zip(caps[v], embed_cached(emb, caps[v], cache / "caps" / f"{v}.npy"), strict=True))
    vecs.update(sentence_vectors([t for v in videos for t in caps[v]], cache / "sent_vecs.npz", emb))
    feat = Featuriser(vecs)
    out = {c: np.zeros((len(rows), 5, len(FEATURES))) for c in EVAL_CONDS}
    t0 = time.time()
    for n, r in enumerate(rows):
        opts = [r[f"a{i}"] for i in range(5)]
        vc = caps[r["video"]]
        qo = np.stack([vecs[f"{r['question']} {x}"] for x in opts])
        order = np.argsort(-(qo @ np.stack([vecs[t] for t in vc]).T).mean(axis=0), kind="stable")
        for cond in CONDS:
            sel = order if cond == "all" else np.sort(order[: int(cond[3:])])
            out[cond][n] = feat(r["question"], opts, [vc[j] for j in np.sort(sel)])
        if n % 1000 == 0:
            print(f"features {n}/{len(rows)} {time.time() - t0:.0f} s", flush=True)
    # the spliced 180-caption dev videos of bench/navigation.py (all dev questions, seed 0)
    dev_q = [q for q in load_nextqa(data / "val.csv") if split_of(q.video) == "dev" and q.video in caps]
    long_q, videos = build_long(dev_q, src.get, 180, 0)
    index = {f"{r['video']}_{r['qid']}": n for n, r in enumerate(rows)}
    for q, lq in zip(dev_q, long_q, strict=True):
        n, opts = index[q.qid], list(q.options)
        texts = list(dict.fromkeys(ln.text for ln in videos[lq.video]))
        qo = np.stack([vecs[f"{q.question} {x}"] for x in opts])
        top = np.sort(np.argsort(-(qo @ np.stack([vecs[t] for t in texts]).T).mean(axis=0), kind="stable")[:12])
        out["long"][n] = feat(q.question, opts, texts)
        out["long12"][n] = feat(q.question, opts, [texts[j] for j in top])
    print(f"NExT-QA features in {time.time() - t0:.0f} s", flush=True)
    for c, p in paths.items():
        np.save(p, out[c])
    return rows, out


def fit_clogit(X: np.ndarray, y: np.ndarray, mask: np.ndarray, wt: np.ndarray, l2: float = 1e-3) -> np.ndarray:
    """Conditional logit: score = X @ w, softmax over the valid options; X: (n, 5, f)."""
    Xt, yt, wt_t = torch.tensor(X), torch.tensor(y), torch.tensor(wt / wt.mean())
    pad = torch.tensor(np.where(mask, 0.0, -1e9))
    w = torch.zeros(X.shape[2], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w], lr=1, max_iter=500, tolerance_grad=1e-10, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        ce = torch.nn.functional.cross_entropy(Xt @ w + pad, yt, reduction="none")
        loss = (ce * wt_t).mean() + l2 * (w * w).sum()
        loss.backward()
        return loss
    opt.step(closure)
    return w.detach().numpy()


def fit_calib(S: np.ndarray, y: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    """P(top-1 correct) = sigmoid(a * margin + b), maximum likelihood."""
    S = np.where(mask, S, -np.inf)
    srt = np.sort(S, axis=1)
    margin = torch.tensor(srt[:, -1] - srt[:, -2])
    corr = torch.tensor((S.argmax(axis=1) == y).astype(float))
    ab = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([ab], lr=1, max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(ab[0] * margin + ab[1], corr)
        loss.backward()
        return loss
    opt.step(closure)
    a, b = (float(v) for v in ab.detach())
    return a, b


class Model:
    """Weights as stored in scorer_weights.json, applied to a feature tensor."""

    def __init__(self, w: dict) -> None:
        self.w = w

    def scores(self, X: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        S = np.zeros(X.shape[:2])
        for name, wt in self.w["features"].items():
            S += wt * (column(name, X, FEATURES, mask) - self.w["mean"].get(name, 0.0)) / self.w["std"].get(name, 1.0)
        return S if mask is None else np.where(mask, S, -np.inf)

    def confidence(self, S: np.ndarray) -> np.ndarray:
        srt = np.sort(S, axis=1)
        a, b = self.w["calib"]
        return 1.0 / (1.0 + np.exp(-(a * (srt[:, -1] - srt[:, -2]) + b)))


def ece(conf: np.ndarray, correct: np.ndarray, bins: int = 10) -> float:
    idx = np.minimum((conf * bins).astype(int), bins - 1)
    return float(sum(abs(correct[idx == b].mean() - conf[idx == b].mean()) * (idx == b).mean()
                     for b in range(bins) if (idx == b).any()))


def design(X: np.ndarray, names: list[str], mask: np.ndarray) -> np.ndarray:
    """(n, 5, len(names)): the named raw or derived features (scorer_extra.column)."""
    return np.stack([column(n, X, FEATURES, mask) for n in names], axis=2)


def fit_model(Xs: list[np.ndarray], ys: list[np.ndarray], masks: list[np.ndarray], wts: list[np.ndarray],
              names: list[str], about: str) -> dict:
    X, y, m = np.concatenate(Xs), np.concatenate(ys), np.concatenate(masks)
    wt = np.concatenate(wts)
    D = design(X, names, m)
    flat = D[m]
    mu, sd = flat.mean(axis=0), flat.std(axis=0)
    sd = np.where(sd < 1e-6, 1.0, sd)               # constant in training: never amplify it later
    Z = np.where(m[:, :, None], (D - mu) / sd, 0.0)
    w = fit_clogit(Z, y, m, wt)
    a, b = fit_calib(Z @ w, y, m)
    r6 = lambda v: round(float(v), 6)  # noqa: E731
    return {"about": about, "embedder": "all-MiniLM-L6-v2",
            "features": {n: r6(v) for n, v in zip(names, w, strict=True)},
            "mean": {n: r6(v) for n, v in zip(names, mu, strict=True)},
            "std": {n: r6(v) for n, v in zip(names, sd, strict=True)}, "calib": [r6(a), r6(b)]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DATA, help="folder with NExT-QA val.csv + captions_1fps.zip")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/videonav_answer"))
    ap.add_argument("--gen-dir", type=Path, default=Path("/tmp/vn_gen"), help="generated videos + stores")
    ap.add_argument("--gen-train", default="100-115", help="generator seeds to fit on (from 100-199)")
    ap.add_argument("--gen-eval", default="200-207", help="held-out generator seeds (from 200-299)")
    ap.add_argument("--gen-weight", type=float, default=4.0, help="weight of a generated row vs a NExT-QA row")
    ap.add_argument("--baseline", type=Path, default=ROOT / "bench" / "results" / "scorer_weights_v1.json")
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--max-videos", type=int, default=None, metavar="N", help="dry run on the first N videos")
    ap.add_argument("--cached-only", action="store_true", help="only videos whose caption vectors are cached")
    ap.add_argument("--features", default="+sent", help="feature list: a candidate of bench/answerer_cv.py "
                    "(chosen there by cross-validation on train)")
    ap.add_argument("--llm", type=int, default=0, metavar="N", help="SmolLM2 PMI on N train + N dev questions")
    args = ap.parse_args()
    from answerer_cv import candidates  # late: answerer_cv imports this module
    if args.features not in candidates():
        sys.exit(f"--features {args.features!r} is no candidate of bench/answerer_cv.py: one of {list(candidates())}")
    if not (args.data / "val.csv").exists():
        sys.exit(f"NExT-QA val.csv not found under {args.data}: pass --data DIR (val.csv + captions_1fps.zip)")
    tr_seeds, ev_seeds = parse_seeds(args.gen_train), parse_seeds(args.gen_eval)
    if not all(100 <= s < 200 for s in tr_seeds) or not all(200 <= s < 300 for s in ev_seeds):
        sys.exit("--gen-train seeds must lie in 100-199 and --gen-eval seeds in 200-299 (others are kept for checks)")
    args.cache.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    rows, F = nextqa_features(args.data, args.cache, args.max_videos, args.cached_only)
    y = np.array([int(r["answer"]) for r in rows])
    dev = np.array([split_of(r["video"]) == "dev" for r in rows])
    tr, full = ~dev, np.ones((len(rows), 5), dtype=bool)
    g_tr, G_tr, m_tr = gen_features(tr_seeds, args.gen_dir, args.cache)
    g_ev, G_ev, m_ev = gen_features(ev_seeds, args.gen_dir, args.cache)
    yg_tr, yg_ev = np.array([r["answer"] for r in g_tr]), np.array([r["answer"] for r in g_ev])
    print(f"NExT-QA {tr.sum()} train / {dev.sum()} dev questions; generated {len(g_tr)} train questions "
          f"(seeds {args.gen_train}) / {len(g_ev)} held-out (seeds {args.gen_eval})\n")

    def pool(weight: float) -> tuple[list, list, list, list]:
        Xs = [F[c][tr] for c in CONDS] + [G_tr[c] for c in GEN_CONDS]
        ys = [y[tr]] * len(CONDS) + [yg_tr] * len(GEN_CONDS)
        ms = [full[tr]] * len(CONDS) + [m_tr] * len(GEN_CONDS)
        ws = [np.ones(tr.sum())] * len(CONDS) + [np.full(len(g_tr), weight)] * len(GEN_CONDS)
        return Xs, ys, ms, ws
    about = ("OptionScorer weights fitted by bench/fit_answerer.py: conditional logit over standardised features "
             f"on NExT-QA train (split_of; all/top4/top8/top12) + generated seeds {args.gen_train} "
             f"(all/nav/noev, weight {args.gen_weight:g})")
    names = candidates()[args.features]
    about += f"; features: answerer_cv candidate {args.features!r}"
    models = {"before": Model(json.loads(args.baseline.read_text())) if args.baseline.exists() else None,
              "refit session-5 feats": Model(fit_model(*pool(args.gen_weight), BASE_FEATURES + COOC_FEATURES,
                                                       about)),
              f"refit {args.features}, NExT-QA only": Model(fit_model(*pool(0.0), names, about)),
              WRITTEN: Model(fit_model(*pool(args.gen_weight), names, about))}
    models = {k: v for k, v in models.items() if v is not None}
    single = {"qo_mean (MiniLM mean sim)": FEATURES.index("qo_mean"), "qo_max": FEATURES.index("qo_max"),
              "s_qo_max (per sentence)": FEATURES.index("s_qo_max")}

    acc = lambda S, yy: 100 * float((S.argmax(axis=1) == yy).mean())  # noqa: E731
    print("## NExT-QA dev accuracy (%), all dev questions\n")
    print("| scorer | " + " | ".join(EVAL_CONDS) + " |\n|---|" + "---|" * len(EVAL_CONDS))
    for name, j in single.items():
        print(f"| {name} | " + " | ".join(f"{acc(F[c][dev][:, :, j], y[dev]):.1f}" for c in EVAL_CONDS) + " |")
    for name, m in models.items():
        print(f"| {name} | " + " | ".join(f"{acc(m.scores(F[c][dev]), y[dev]):.1f}" for c in EVAL_CONDS) + " |")

    print(f"\n## Generated videos, held-out seeds {args.gen_eval}: accuracy (%) per type and reading\n")
    gtype = np.array([r["type"] for r in g_ev])
    heads = [f"{t} (n={int((gtype == t).sum())})" for t in GEN_TYPES]
    print("| scorer | reading | " + " | ".join(heads) + " | all |\n|---|---|" + "---|" * (len(GEN_TYPES) + 1))
    for name, m in models.items():
        for c in GEN_CONDS:
            S = m.scores(G_ev[c], m_ev)
            cells = [acc(S[gtype == t], yg_ev[gtype == t]) for t in GEN_TYPES]
            print(f"| {name} | {c} | " + " | ".join(f"{v:.0f}" for v in cells) + f" | {acc(S, yg_ev):.1f} |")

    print("\n## Calibration: ECE (10 bins) / mean confidence / accuracy\n")
    sets = [("NExT-QA dev all", F["all"][dev], y[dev], full[dev]), ("NExT-QA dev top12", F["top12"][dev], y[dev],
            full[dev]), ("NExT-QA dev long12", F["long12"][dev], y[dev], full[dev])]
    sets += [(f"generated {c}", G_ev[c], yg_ev, m_ev) for c in GEN_CONDS]
    print("| scorer | " + " | ".join(s[0] for s in sets) + " |\n|---|" + "---|" * len(sets))
    for name, m in models.items():
        cells = []
        for _, X, yy, mm in sets:
            S = m.scores(X, mm)
            cf, ok = m.confidence(S), (S.argmax(axis=1) == yy).astype(float)
            cells.append(f"{ece(cf, ok):.3f} / {cf.mean():.2f} / {ok.mean():.2f}")
        print(f"| {name} | " + " | ".join(cells) + " |")

    print("\n## Halting (planner halts once confidence >= threshold)\n")
    print("NExT-QA dev, reading top4 -> top8 -> top12 and stopping at the first confident step; generated "
          "held-out: share that would halt with the evidence read (nav) / without it (noev)\n")
    print("| scorer | threshold | NExT-QA acc | mean captions | halted early | gen halt nav | gen acc when halted "
          "(nav) | gen halt noev |\n|---|---|---|---|---|---|---|---|")
    for name, m in models.items():
        Ss = {c: m.scores(F[c][dev]) for c in ("top4", "top8", "top12")}
        Cs = {c: m.confidence(S) for c, S in Ss.items()}
        Sn, Sx = m.scores(G_ev["nav"], m_ev), m.scores(G_ev["noev"], m_ev)
        cn, cx = m.confidence(Sn), m.confidence(Sx)
        for th in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8):
            pick = np.full(int(dev.sum()), 12)
            for k in (8, 4):
                pick[Cs[f"top{k}"] >= th] = k
            S = np.choose((pick // 4 - 1)[:, None], [Ss["top4"], Ss["top8"], Ss["top12"]])
            h = cn >= th
            gacc = f"{100 * float((Sn[h].argmax(axis=1) == yg_ev[h]).mean()):.0f}" if h.any() else "-"
            print(f"| {name} | {th} | {acc(S, y[dev]):.1f} | {pick.mean():.1f} | {100 * (pick < 12).mean():.0f}% "
                  f"| {100 * h.mean():.0f}% | {gacc} | {100 * (cx >= th).mean():.0f}% |")
    whole = fit_whole([F[c][tr] for c in CONDS], [y[tr]] * len(CONDS), fit_clogit, fit_calib,
                      f"whole-video model: {int(tr.sum())} NExT-QA train questions x {'/'.join(CONDS)}")
    report_whole({k: models[k] for k in ("before", WRITTEN) if k in models}, whole, F, y, dev,
                 [r["question"] for r in rows], acc, ece)
    final = models[WRITTEN].w
    print("\nwritten weights (standardised features):\n" + "\n".join(f"  {n:14s} {v:+.3f}" for n, v in
          final["features"].items()) + f"\nconfidence = sigmoid({final['calib'][0]:.3f} * margin + "
          f"{final['calib'][1]:.3f})\nwhole-video model: {whole['features']}, calib {whole['calib']}")
    if args.llm:
        from answerer_llm import llm_features  # inspection only: the weights keep llm.weight 0
        llm_features(rows, np.flatnonzero(dev)[: args.llm], args.cache, args.data)
    if args.write:
        m = models[WRITTEN]
        final.update({"fitted_on": f"{int(tr.sum())} NExT-QA train questions + {len(g_tr)} generated questions "
                                   f"(seeds {args.gen_train}); dev {int(dev.sum())} questions",
                      "llm": {"weight": 0.0, "k": 4}, "whole_video": whole,  # calib_gap: set by hand, kept
                      **{k: v for k, v in json.loads(WEIGHTS_PATH.read_text()).items() if k == "calib_gap"},
                      "dev_accuracy": {c: round(acc(m.scores(F[c][dev]), y[dev]) / 100, 4) for c in EVAL_CONDS}})
        WEIGHTS_PATH.write_text(json.dumps(final, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {WEIGHTS_PATH}")


if __name__ == "__main__":
    main()
