"""Sentence-level MiniLM vectors as a dense-only retriever: is the hybrid lead real against a better dense?

Why: a NExT-QA 1-fps caption is ~76 words in 4-5 sentences ("The image showcases a young child
... In the background, there's a wooden fence"); one vector per caption blurs the sentence a
question is about. Scoring each video / leaf by its best *sentence* is a dense-only change, so
it must be judged as a baseline too: "hybrid >= dense + 5 points" is only honest against the
best dense-only retriever found (bench/results/retrieval.txt, session 7). Offline, from
bench/retrieval_variants.py's cache of the shipped retrievers' per-query scores (same order of
questions) and the store's own text rows; settings are picked on the fit half, both halves printed.

    python bench/retrieval_variants.py --store S --cache /tmp/vn-variants.pkl          # writes the cache
    python bench/retrieval_sentences.py --store S --cache /tmp/vn-variants.pkl --vectors /tmp/vn-sent.npz
"""

from __future__ import annotations

import argparse
import pickle
import sqlite3
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from retrieval import SHARED  # noqa: E402
from retrieval_variants import _moment_r1, _r1, _rrf, _z  # noqa: E402


def sentence_vectors(texts: list[str], path: Path | None) -> dict[str, np.ndarray]:
    """MiniLM vectors of ``texts`` (unit length), cached in an ``.npz`` (texts, vecs): only new ones are embedded."""
    from videonav.tools.config import EmbedderConfig
    from videonav.tools.embed import make_embedder

    have: dict[str, np.ndarray] = {}
    if path is not None and path.exists():
        z = np.load(path)
        have = dict(zip(z["texts"].tolist(), z["vecs"].astype(np.float32), strict=True))
    todo = [t for t in dict.fromkeys(texts) if t not in have]
    if todo:
        print(f"embedding {len(todo)} sentences", file=sys.stderr, flush=True)
        emb = make_embedder(EmbedderConfig())
        for a in range(0, len(todo), 2000):
            have.update(zip(todo[a:a + 2000], emb.encode(todo[a:a + 2000]).astype(np.float32), strict=True))
        if path is not None:
            keys = sorted(have)
            np.savez(path, texts=np.array(keys), vecs=np.stack([have[k] for k in keys]))
    return {t: v / (np.linalg.norm(v) or 1.0) for t, v in have.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--store", required=True, help="the NExT-QA store bench/retrieval.py built")
    ap.add_argument("--cache", required=True, help="bench/retrieval_variants.py --cache pickle")
    ap.add_argument("--vectors", default=None, help=".npz cache of sentence vectors (written if missing)")
    ap.add_argument("--data", default=str(SHARED))
    args = ap.parse_args(argv)
    for p, what in ((args.store, "store"), (args.cache, "cache")):
        if not Path(p).exists():
            print(f"{what} {p} not found; build it with bench/retrieval_variants.py --store S --cache C",
                  file=sys.stderr)
            return 2
    from videonav.agent.evaluation.datasets import load_nextgqa
    from videonav.tools.config import EmbedderConfig
    from videonav.tools.embed import make_embedder, split_sentences

    f: dict[str, Any] = pickle.loads(Path(args.cache).read_bytes())
    v, ms = f["video"], f["moments"]
    db = sqlite3.connect(args.store)
    rows = db.execute("SELECT tree_key, node_id, text FROM text_fields ORDER BY id").fetchall()
    keys = {vid: tk for tk, vid in db.execute("SELECT tree_key, video_id FROM trees")}
    sents = [split_sentences(t) for _, _, t in rows]
    vec = sentence_vectors([s for ss in sents for s in ss], Path(args.vectors) if args.vectors else None)
    names = sorted({s for ss in sents for s in ss})
    sid = {s: i for i, s in enumerate(names)}
    mat = np.stack([vec[s] for s in names])

    # video retrieval: each video's best sentence, over every row of the video (as dense best row)
    pos = {t: i for i, t in enumerate(v["trees"])}
    pairs = sorted({(pos[tk], sid[s]) for (tk, _, _), ss in zip(rows, sents, strict=True) for s in ss})
    pv, ps = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
    starts, sm = np.searchsorted(pv, np.arange(len(v["trees"]))), mat[ps]
    ds = np.zeros_like(v["dense"])
    for a in range(0, len(v["qv"]), 128):
        ds[a:a + 128] = np.maximum.reduceat(v["qv"][a:a + 128].astype(np.float32) @ sm.T, starts, axis=1)
    lex = 2 / 3 * _z(v["doc"]) + 1 / 3 * _z(v["row"])
    out = [("dense, best row (shipped)", *_r1(v, v["dense"])), ("dense, best sentence", *_r1(v, ds)),
           ("hybrid (shipped: .7 z dense + .3 lexical)", *_r1(v, 0.7 * _z(v["dense"]) + 0.3 * lex))]
    for w in (0.3, 0.4, 0.5, 0.6):
        mix = (1 - w) * _z(v["dense"]) + w * _z(ds)
        out.append((f"dense, z(row) and z(sentence) mixed, sentence share {w}", *_r1(v, mix)))
        for lw in (0.25, 0.3, 0.35):
            out.append((f"  hybrid on it, lexical weight {lw}", *_r1(v, (1 - lw) * _z(mix) + lw * lex)))
    print(f"NExT-QA video R@1\n{'variant':72s} fit    held")
    for name, a, b in out:
        print(f"{name:72s} {a:.3f}  {b:.3f}")

    # moment retrieval: each leaf's best sentence (every field of the leaf), same question order as the cache
    data = Path(args.data) / "nextgqa"
    gq = [q for q in load_nextgqa(data / "val.csv", data / "gsub_val.json") if q.video in keys and q.evidence]
    assert len(gq) == len(ms), (len(gq), len(ms))
    qv = make_embedder(EmbedderConfig()).encode([f"{q.question} {q.truth_text}" for q in gq]).astype(np.float32)
    leaf_sents: dict[tuple[str, str], set[int]] = {}
    for (tk, nid, _), ss in zip(rows, sents, strict=True):
        leaf_sents.setdefault((tk, nid), set()).update(sid[s] for s in ss)
    for i, (q, m) in enumerate(zip(gq, ms, strict=True)):
        m["sent"] = np.array([max((float(mat[s] @ qv[i]) for s in leaf_sents.get((keys[q.video], n), ())),
                                  default=-9.0) for n in m["ids"]])
    def lexrrf(m: dict[str, Any]) -> np.ndarray:
        return _rrf(m["lex"], m["lex"] > 0)
    out = [("dense, best field (shipped)", *_moment_r1(ms, lambda m: m["dense"])),
           ("dense, best sentence", *_moment_r1(ms, lambda m: m["sent"])),
           ("hybrid (shipped: RRF dense + lexical)", *_moment_r1(ms, lambda m: _rrf(m["dense"]) + lexrrf(m)))]
    for w in (0.5, 1.0):
        out += [(f"dense, RRF(field) + {w} RRF(sentence)", *_moment_r1(ms, lambda m, w=w: _rrf(m["dense"])
                                                                       + w * _rrf(m["sent"]))),
                ("  hybrid on it (+ RRF lexical)", *_moment_r1(ms, lambda m, w=w: _rrf(m["dense"]) + w * _rrf(m["sent"])
                                                               + lexrrf(m)))]
    print(f"\nNExT-GQA moment R@1 at IoU 0.3\n{'variant':72s} fit    held")
    for name, a, b in out:
        print(f"{name:72s} {a:.3f}  {b:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
