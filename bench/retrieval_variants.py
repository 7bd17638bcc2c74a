"""Fusion variants for ``videonav search`` re-scored offline from the shipped retrievers' own scores.

Why offline: one ``bench/retrieval.py`` pass over 570 videos takes ~30 min on two shared cores,
too slow to compare dozens of fusions. Here every query's per-video (NExT-QA) and per-leaf
(NExT-GQA) scores are computed once through the shipped code (``_Matrix.scores``,
``video_bm25``, ``text_index.lexical``, ``search_local.score``), cached, and each variant
is a few numpy lines over them. The ``current`` rows reproduce bench/retrieval.py's
supplemented numbers exactly, so a variant that beats them here would beat them there.
Settings are picked on the ``fit`` half (questions of the first half of the sorted val video
ids, bench/retrieval.py's ``tune``); both halves are printed.

    python bench/retrieval.py nextqa nextgqa --store S --seed-vectors V --modes lexical   # builds S
    python bench/retrieval_variants.py --store S --cache /tmp/vn-variants.pkl
"""

from __future__ import annotations

import argparse
import pickle
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from retrieval import SHARED, in_split, iou  # noqa: E402


def features(store_path: str, data: Path) -> dict[str, Any]:
    """Per-query scores from the shipped code paths (supplemented text: every field)."""
    from videonav.agent.evaluation.datasets import load_nextgqa, load_nextqa
    from videonav.memory import text_index as ti
    from videonav.memory.store import Store
    from videonav.tools import search_local as local
    from videonav.tools import search_videos as sv
    from videonav.tools.config import EmbedderConfig
    from videonav.tools.embed import make_embedder
    from videonav.tools.search import Searcher, _Matrix

    emb = make_embedder(EmbedderConfig())
    with Store(store_path) as store:
        db = store._db
        sr = Searcher.for_store(store, emb)
        keys = {v: tk for tk, v in db.execute("SELECT tree_key, video_id FROM trees")}
        m = sr.matrix()
        trees, pos = list(m.trees), {t: i for i, t in enumerate(m.trees)}
        order, starts = m.by_tree()
        qa = [q for q in load_nextqa(data / "nextqa" / "val.csv") if q.video in keys and q.truth is not None]
        texts = [f"{q.question} {q.options[q.truth]}" for q in qa]
        qv = emb.encode(texts)
        dense, best, doc, row = (np.zeros((len(qa), len(trees)), t) for t in (np.float32, np.int64, np.float32,
                                                                            np.float32))
        for i, text in enumerate(texts):
            s = m.scores(qv[i])[order]
            dense[i] = np.maximum.reduceat(s, starts)
            ends = np.append(starts[1:], len(s))
            best[i] = [order[a + int(np.argmax(s[a:b]))] for a, b in zip(starts, ends, strict=True)]
            doc[i] = sv.video_bm25(db, text, trees)
            for h in ti.lexical(db, text, limit=2000):
                j = pos[h.tree_key]
                row[i, j] = max(row[i, j], h.score)
        video = dict(trees=trees, target=np.array([pos[keys[q.video]] for q in qa]), dense=dense, best=best,
                     doc=doc, row=row, qv=qv, mat=np.asarray(m.mat, np.float32),
                     fit=np.array([in_split(q.video, keys, "tune") for q in qa]), row_tree=np.asarray(m.tree_idx))
        gq = [q for q in load_nextgqa(data / "nextgqa" / "val.csv", data / "nextgqa" / "gsub_val.json")
              if q.video in keys and q.evidence]
        moments = []
        for q in gq:
            text, tk = f"{q.question} {q.truth_text}", keys[q.video]
            mm = _Matrix.build(db, sr.embedder_id, [tk])
            d = local._docs(db, [tk], None)
            leaves = sorted((k for k in d.tf if k in d.leaves),
                            key=lambda k: [int(x) if x.isdigit() else -1 for x in k[1].split(".")])
            idx = {k[1]: j for j, k in enumerate(leaves)}
            cos = mm.scores(emb.encode([text])[0])
            dn = np.full(len(leaves), -9.0)
            span: dict[int, tuple[float, float]] = {}
            for r, nid in enumerate(mm.node_ids):
                if str(nid) in idx:
                    dn[idx[str(nid)]] = max(dn[idx[str(nid)]], float(cos[r]))
            info = ti.fetch_fields(db, [fid for k in leaves for fid in d.node_rows[k][:1]])
            for _tk, nid, _lv, s, e, _f, _t in info.values():
                span[idx[nid]] = (float(s), float(e))
            lx = np.zeros(len(leaves))
            for fid, s in local.score(db, text, [tk], None, "leaf", 200):
                lx[idx[ti.fetch_fields(db, [fid])[fid][1]]] = s
            moments.append(dict(dense=dn, lex=lx, spans=[span[j] for j in range(len(leaves))],
                                ids=[k[1] for k in leaves], evidence=list(q.evidence),
                                fit=in_split(q.video, keys, "tune"), tf=[dict(d.tf[k]) for k in leaves],
                                terms=local.query_terms(text)))
    return dict(video=video, moments=moments)


# -- video retrieval -------------------------------------------------------------------------------
def _z(s: np.ndarray) -> np.ndarray:
    return (s - s.mean(1, keepdims=True)) / (s.std(1, keepdims=True) + 1e-12)


def _r1(v: dict[str, Any], s: np.ndarray) -> tuple[float, float]:
    t = s[np.arange(len(s)), v["target"]]
    hit = (s > t[:, None]).sum(1) == 0
    return float(hit[v["fit"]].mean()), float(hit[~v["fit"]].mean())


def _hybrid(v: dict[str, Any], dense: np.ndarray | None = None, doc: np.ndarray | None = None) -> np.ndarray:
    dense = v["dense"] if dense is None else dense
    doc = v["doc"] if doc is None else doc
    return 0.7 * _z(dense) + 0.3 * (2 / 3 * _z(doc) + 1 / 3 * _z(v["row"]))


def _dense_prf(v: dict[str, Any], src: np.ndarray, k: int, beta: float) -> np.ndarray:
    """Query vector + beta x mean of the best rows of the k top videos of ``src``; videos re-scored."""
    top = np.argsort(-src, 1)[:, :k]
    q = v["qv"] + beta * v["mat"][np.take_along_axis(v["best"], top, 1)].mean(1)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    order = np.argsort(v["row_tree"], kind="stable")
    starts = np.searchsorted(v["row_tree"][order], np.arange(v["dense"].shape[1]))
    mat = v["mat"][order]
    out = np.zeros_like(v["dense"])
    for a in range(0, len(q), 256):
        out[a:a + 256] = np.maximum.reduceat(q[a:a + 256] @ mat.T, starts, axis=1)
    return out


def video_variants(v: dict[str, Any]) -> list[tuple[str, float, float]]:
    h0, lex = _hybrid(v), 2 / 3 * _z(v["doc"]) + 1 / 3 * _z(v["row"])
    def mm(s: np.ndarray) -> np.ndarray:
        return (s - s.min(1, keepdims=True)) / (s.max(1, keepdims=True) - s.min(1, keepdims=True) + 1e-12)
    out = [("dense (best row)", *_r1(v, v["dense"])), ("lexical (current)", *_r1(v, lex)),
           ("hybrid (current: .7 z dense + .2 z doc + .1 z row)", *_r1(v, h0)),
           ("hybrid, min-max instead of z", *_r1(v, 0.7 * mm(v["dense"]) + 0.3 * (2 / 3 * mm(v["doc"])
                                                                               + 1 / 3 * mm(v["row"])))),
           ("hybrid, sqrt of BM25 before z", *_r1(v, 0.7 * _z(v["dense"]) + 0.3 * (2 / 3 * _z(np.sqrt(v["doc"]))
                                                                                 + 1 / 3 * _z(np.sqrt(v["row"])))))]
    for k in (3, 10):
        d = _dense_prf(v, h0, k, 0.3)
        out += [(f"dense PRF from hybrid top-{k} (b .3): dense", *_r1(v, d)),
                (f"dense PRF from hybrid top-{k} (b .3): hybrid", *_r1(v, _hybrid(v, dense=d)))]
    return out


# -- moment retrieval ------------------------------------------------------------------------------
def _rrf(s: np.ndarray, present: np.ndarray | None = None, k: int = 60) -> np.ndarray:
    r = np.empty(len(s))
    r[np.lexsort((np.arange(len(s)), -s))] = np.arange(1, len(s) + 1)
    out = 1.0 / (k + r)
    return out if present is None else np.where(present, out, 0.0)


def _rank(s: np.ndarray) -> np.ndarray:
    r = np.empty(len(s), np.int64)
    r[np.lexsort((np.arange(len(s)), -s))] = np.arange(len(s))
    return r


def _moment_r1(ms: list[dict[str, Any]], score: Callable[[dict[str, Any]], np.ndarray],
               merge: Callable[[dict[str, Any]], list[np.ndarray]] | None = None, n: int = 2) -> tuple[float, float]:
    """R@1 at IoU 0.3 of the top leaf; with ``merge``, the top leaf grows over adjacent leaves ranked in
    the top ``n`` of any of the lists ``merge`` returns (span construction)."""
    hit = []
    for q in ms:
        s = score(q)
        names = np.argsort(np.argsort(np.array(q["ids"], dtype=str)))
        j = int(np.lexsort((names, -s))[0])
        a, b = q["spans"][j]
        if merge is not None:
            ranks = [_rank(x) for x in merge(q)]
            by_time = sorted(range(len(s)), key=lambda x: q["spans"][x][0])
            lo = hi = by_time.index(j)
            while lo > 0 and any(r[by_time[lo - 1]] < n for r in ranks):
                lo -= 1
            while hi + 1 < len(by_time) and any(r[by_time[hi + 1]] < n for r in ranks):
                hi += 1
            a, b = q["spans"][by_time[lo]][0], q["spans"][by_time[hi]][1]
        hit.append(max(iou((a, b), tuple(e)) for e in q["evidence"]) >= 0.3)
    h, fit = np.array(hit), np.array([q["fit"] for q in ms])
    return float(h[fit].mean()), float(h[~fit].mean())


def moment_variants(ms: list[dict[str, Any]]) -> list[tuple[str, float, float]]:
    def dense(q: dict[str, Any]) -> np.ndarray:
        return q["dense"]
    def lex(q: dict[str, Any]) -> np.ndarray:
        return q["lex"] + 1e-6 * q["dense"]
    def hyb(q: dict[str, Any]) -> np.ndarray:
        return _rrf(q["dense"]) + _rrf(q["lex"], q["lex"] > 0)
    out = [("dense (best field of the leaf)", *_moment_r1(ms, dense)), ("lexical (video's own BM25)",
                                                                        *_moment_r1(ms, lex)),
           ("hybrid (current: RRF k 60)", *_moment_r1(ms, hyb))]
    for n in (2, 3):
        out += [(f"span: top leaf + adjacent leaves in its list's top {n}: dense",
                 *_moment_r1(ms, dense, lambda q: [q["dense"]], n)),
                ("span: same, lexical", *_moment_r1(ms, lex, lambda q: [lex(q)], n)),
                ("span: same, hybrid (fused list)", *_moment_r1(ms, hyb, lambda q: [hyb(q)], n)),
                ("span: same, hybrid (dense or lexical list)", *_moment_r1(ms, hyb, lambda q: [q["dense"], lex(q)],
                                                                             n))]
    return out + session7_moment_variants(ms, dense, hyb)


def _leaf_bm25(q: dict[str, Any], k1: float, b: float) -> np.ndarray:
    """The shipped within-video BM25 (search_local.score) recomputed from the cached leaf term counts."""
    f = np.array([[d.get(t, 0) for t in q["terms"]] for d in q["tf"]], float).reshape(len(q["tf"]), -1)
    length = np.array([sum(d.values()) for d in q["tf"]], float)
    n, c = len(length), (f > 0).sum(0)
    idf = np.log(1 + (n - c + 0.5) / (c + 0.5)) * (c > 0)
    return (idf * f * (k1 + 1) / (f + k1 * (1 - b + b * length[:, None] / (length.mean() or 1.0)))).sum(1)


def _dirichlet(q: dict[str, Any], mu: float) -> np.ndarray:
    """Query likelihood with Dirichlet smoothing, the video's leaves as the collection."""
    f = np.array([[d.get(t, 0) for t in q["terms"]] for d in q["tf"]], float).reshape(len(q["tf"]), -1)
    length = np.array([sum(d.values()) for d in q["tf"]], float)
    pc = f.sum(0) / max(1.0, length.sum())
    keep = pc > 0
    s = np.log((f[:, keep] + mu * pc[keep]) / (length[:, None] + mu)).sum(1)
    return s - s.min() + 1e-9 if keep.any() else np.zeros(len(length))


def _smooth(q: dict[str, Any], s: np.ndarray, a: float) -> np.ndarray:
    """Each leaf's score plus ``a`` x the mean of its time-adjacent leaves' scores."""
    o = np.argsort([sp[0] for sp in q["spans"]], kind="stable")
    x = np.asarray(s, float)[o]
    nb, cnt = np.zeros_like(x), np.zeros_like(x)
    nb[1:] += x[:-1]
    cnt[1:] += 1
    nb[:-1] += x[1:]
    cnt[:-1] += 1
    out = np.empty_like(x)
    out[o] = x + a * nb / np.maximum(cnt, 1)
    return out


def session7_moment_variants(ms: list[dict[str, Any]], dense: Callable[[dict[str, Any]], np.ndarray],
                             hyb: Callable[[dict[str, Any]], np.ndarray]) -> list[tuple[str, float, float]]:
    """Session 7 (bench/results/retrieval.txt): lexical scoring, agreement and smoothing, all rejected on fit."""
    def fused(lexf: Callable[[dict[str, Any]], np.ndarray]) -> Callable[[dict[str, Any]], np.ndarray]:
        return lambda q: _rrf(q["dense"]) + _rrf(lexf(q), lexf(q) > 0)
    out = []
    for k1, b in ((3.0, 0.0), (3.0, 1.0), (0.8, 0.0)):
        out += [(f"s7 lexical BM25 k1 {k1} b {b}", *_moment_r1(ms, lambda q, k1=k1, b=b: _leaf_bm25(q, k1, b))),
                ("s7   same, hybrid", *_moment_r1(ms, fused(lambda q, k1=k1, b=b: _leaf_bm25(q, k1, b))))]
    for mu in (50.0, 500.0):
        out += [(f"s7 lexical query likelihood (Dirichlet mu {mu:g})",
                 *_moment_r1(ms, lambda q, mu=mu: _dirichlet(q, mu))),
                ("s7   same, hybrid", *_moment_r1(ms, fused(lambda q, mu=mu: _dirichlet(q, mu))))]
    def agree(q: dict[str, Any], k: int = 2) -> np.ndarray:  # both lists rank the leaf in their top k
        both = (_rank(q["dense"]) < k) & (_rank(q["lex"]) < k) & (q["lex"] > 0)
        return hyb(q) + 0.05 * both
    out.append(("s7 hybrid + bonus when dense and lexical both rank the leaf top 2", *_moment_r1(ms, agree)))
    for a in (0.25, 0.5):
        out += [(f"s7 time-adjacent smoothing a {a}: dense", *_moment_r1(ms, lambda q, a=a: _smooth(q, dense(q), a))),
                ("s7   same, lexical", *_moment_r1(ms, lambda q, a=a: _smooth(q, q["lex"], a))),
                ("s7   same, hybrid (each list smoothed, then RRF)", *_moment_r1(
                    ms, lambda q, a=a: _rrf(_smooth(q, q["dense"], a)) + _rrf(_smooth(q, q["lex"], a), q["lex"] > 0)))]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--store", required=True, help="the NExT-QA store bench/retrieval.py built")
    ap.add_argument("--data", default=str(SHARED))
    ap.add_argument("--cache", default=None, help="pickle of the per-query scores (written once, then read)")
    args = ap.parse_args(argv)
    if not Path(args.store).exists():
        print(f"store {args.store} not found; build it with bench/retrieval.py nextqa nextgqa --store ...",
              file=sys.stderr)
        return 2
    cache = Path(args.cache) if args.cache else None
    if cache is not None and cache.exists():
        f = pickle.loads(cache.read_bytes())
    else:
        f = features(args.store, Path(args.data))
        if cache is not None:
            cache.write_bytes(pickle.dumps(f, protocol=4))
    for title, rows in (("NExT-QA video R@1", video_variants(f["video"])),
                        ("NExT-GQA moment R@1 at IoU 0.3", moment_variants(f["moments"]))):
        print(f"{title}\n{'variant':72s} fit    held")
        for name, a, b in rows:
            print(f"{name:72s} {a:.3f}  {b:.3f}")
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
