"""Search at library scale: a synthetic store of 1,000 videos x 300 leaves (300k captions).

Builds the store through the real schema (rows go into ``nodes``; the text-index triggers fill
``text_fields`` / FTS5), stores one 384-d float32 vector per distinct text in ``text_vectors``
(random unit vectors by default: latency does not depend on their values, and MiniLM would
need ~an hour for 330k texts on two cores; ``--embed`` uses the real model), then measures
query latency p50/p95 of lexical, dense and hybrid search in a warm process, the one-off costs
(matrix from SQL, matrix from the ``.npy`` cache), store size, and the vector-index candidates
(numpy brute force vs hnswlib vs faiss, when installed) on the same matrix: build time, query
p50 and recall@10 against the exact answer.

    python bench/search_scale.py --out /tmp/vn-scale.sqlite            # build (once) + measure
    python bench/search_scale.py --out /tmp/vn-scale.sqlite --save     # append to bench/results/retrieval_scale.txt
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results" / "retrieval_scale.txt"
NOUNS = ("dog cat teacher chef robot bridge volcano glacier guitar violin kettle lantern bicycle harbor train "
         "castle comet parrot tulip canyon falcon marble saddle pepper rocket walrus orchid anchor meadow").split()
VERBS = "walks sits points jumps cooks writes plays reads opens closes carries paints repairs explains".split()
ADJS = "red blue green tall small old young bright dark wooden shiny noisy quiet busy empty".split()
HALF_ROWS_NOTE = "20k rows"
WORDS = ["FALCON", "ORCHID", "MARBLE", "LANTERN", "COPPER", "WALRUS", "PEPPER", "VIOLIN", "HARBOR", "CACTUS"]


def caption(rng: random.Random) -> str:
    a, b = rng.sample(NOUNS, 2)
    return (f"a {rng.choice(ADJS)} {a} {rng.choice(VERBS)} near the {b}; on screen "
            f"\"{rng.choice(WORDS)} {rng.randint(1000, 9999)}\"")


def build(path: Path, videos: int, leaves: int, seed: int, embed: bool) -> float:
    from videonav.memory import text_index as ti
    from videonav.memory.store import Store

    t0 = time.perf_counter()
    rng = random.Random(seed)
    parts = 30
    with Store(path) as store:
        db = store._db
        for v in range(videos):
            key, vid = f"scale{v:04d}-key", f"scale{v:04d}"
            rows = [(key, "root", 0, 0.0, 10.0 * leaves, f"video {v} overview", None, None, "synthetic", "", "",
                     0.0)]
            per = leaves // parts
            for p in range(parts):
                rows.append((key, str(p + 1), 1, 10.0 * per * p, 10.0 * per * (p + 1), caption(rng), None, None,
                             "synthetic", "", "", 0.0))
                for j in range(per):
                    s = 10.0 * (per * p + j)
                    rows.append((key, f"{p + 1}.{j + 1}", 2, s, s + 10, caption(rng), None, None, "synthetic",
                                 "", "", 0.0))
            with db:
                db.execute("INSERT OR REPLACE INTO trees VALUES (?,?,?,?,?)", (key, vid, 10.0 * leaves, "{}", 0.0))
                db.executemany("INSERT OR REPLACE INTO nodes VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows)
            if v % 100 == 99:
                print(f"{v + 1} videos {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
        emb_id = "minilm:384" if embed else "random:384"
        todo = ti.missing_texts(db, emb_id)
        if embed:
            from videonav.tools.embed import make_embedder

            e = make_embedder()
            for i in range(0, len(todo), 1024):
                part = todo[i:i + 1024]
                ti.put_vectors(db, emb_id, [h for h, _ in part], e.encode([t for _, t in part]))
        else:
            g = np.random.default_rng(seed)
            for i in range(0, len(todo), 20000):
                part = todo[i:i + 20000]
                v = g.standard_normal((len(part), 384)).astype(np.float32)
                ti.put_vectors(db, emb_id, [h for h, _ in part], v / np.linalg.norm(v, axis=1, keepdims=True))
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return time.perf_counter() - t0


class RandomQueries:
    """Stands in for the embedder at query time (random unit vectors), named like the stored vectors."""

    def __init__(self, name: str, dim: int = 384, seed: int = 1) -> None:
        self.name, self.dim = name, dim
        self.g = np.random.default_rng(seed)

    def encode(self, texts: list[str]) -> np.ndarray:
        v = self.g.standard_normal((len(texts), self.dim)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)


class _Lines(list):
    """The report, printed line by line as it is measured (a long run still shows what it got)."""

    def append(self, line: str) -> None:  # type: ignore[override]
        print(line, flush=True)
        super().append(line)


def pct(xs: list[float], p: float) -> float:
    return float(np.percentile(np.asarray(xs), p))


def ann_compare(mat: np.ndarray, queries: np.ndarray, lines: list[str], hnsw: bool = True) -> None:
    exact = [set(np.argpartition(-(mat @ q), 10)[:10].tolist()) for q in queries]

    def rec(got: list[list[int]]) -> float:
        return float(np.mean([len(exact[i] & set(g)) / 10 for i, g in enumerate(got)]))

    ts = []
    for q in queries:
        t = time.perf_counter()
        np.argpartition(-(mat @ q), 10)[:10]
        ts.append(1000 * (time.perf_counter() - t))
    lines.append(f"numpy f32 matvec       build   0.0 s  p50 {pct(ts, 50):7.2f} ms  p95 {pct(ts, 95):7.2f} ms  "
                 "recall@10 1.000")
    try:
        import torch

        half = torch.from_numpy(mat.astype(np.float16))
        ts, got = [], []
        for q in queries:
            t = time.perf_counter()
            sims = (half @ torch.from_numpy(q.astype(np.float16))).float().numpy()
            got.append(np.argpartition(-sims, 10)[:10].tolist())
            ts.append(1000 * (time.perf_counter() - t))
        lines.append(f"torch float16 GEMV     build   0.0 s  p50 {pct(ts, 50):7.2f} ms  p95 {pct(ts, 95):7.2f} ms  "
                     f"recall@10 {rec(got):.3f}  (what search uses from {HALF_ROWS_NOTE})")
    except ImportError:
        lines.append("torch: not installed")
    try:
        if not hnsw:
            raise ImportError
        import hnswlib

        t = time.perf_counter()
        ix = hnswlib.Index(space="ip", dim=mat.shape[1])
        ix.init_index(max_elements=len(mat), ef_construction=100, M=16)
        ix.add_items(mat, num_threads=2)
        build_s = time.perf_counter() - t
        ix.set_ef(64)
        ts, got = [], []
        for q in queries:
            t = time.perf_counter()
            lab, _ = ix.knn_query(q, k=10)
            ts.append(1000 * (time.perf_counter() - t))
            got.append(lab[0].tolist())
        lines.append(f"hnswlib M16 ef64       build {build_s:5.1f} s  p50 {pct(ts, 50):7.2f} ms  "
                     f"p95 {pct(ts, 95):7.2f} ms  recall@10 {rec(got):.3f}")
    except ImportError:
        lines.append("hnswlib: not installed" if hnsw else "hnswlib: skipped (--no-hnsw; > 40 min to build here)")
    try:
        import faiss

        t = time.perf_counter()
        fx = faiss.IndexFlatIP(mat.shape[1])
        fx.add(np.ascontiguousarray(mat))
        build_s = time.perf_counter() - t
        ts, got = [], []
        for q in queries:
            t = time.perf_counter()
            _, lab = fx.search(q[None, :], 10)
            ts.append(1000 * (time.perf_counter() - t))
            got.append(lab[0].tolist())
        lines.append(f"faiss IndexFlatIP      build {build_s:5.1f} s  p50 {pct(ts, 50):7.2f} ms  "
                     f"p95 {pct(ts, 95):7.2f} ms  recall@10 {rec(got):.3f}")
    except ImportError:
        lines.append("faiss: not installed")
    lines.append("sqlite-vec: not measurable here (this Python's sqlite3 has no enable_load_extension)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("/tmp/vn-scale.sqlite"))
    ap.add_argument("--videos", type=int, default=1000)
    ap.add_argument("--leaves", type=int, default=300)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--embed", action="store_true", help="embed with MiniLM instead of random vectors (slow)")
    ap.add_argument("--no-ann", action="store_true", help="skip the hnswlib / faiss comparison")
    ap.add_argument("--no-hnsw", action="store_true", help="skip only the hnswlib build (slow at 331k rows)")
    ap.add_argument("--save", action="store_true", help=f"append the report to {RESULTS}")
    args = ap.parse_args(argv)

    from videonav.memory.store import Store
    from videonav.tools import search as sm

    lines = _Lines()
    lines += [f"$ python bench/search_scale.py {' '.join(argv if argv is not None else sys.argv[1:])}",
             time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()) + f"; load average {os.getloadavg()[0]:.1f} "
             f"on {os.cpu_count()} cores (shared)"]
    if not args.out.exists():
        lines.append(f"built {args.videos} videos x {args.leaves} leaves in "
                     f"{build(args.out, args.videos, args.leaves, 0, args.embed):.0f} s")
    size = sum(p.stat().st_size for p in args.out.parent.glob(args.out.name + "*") if p.is_file())
    rng = random.Random(7)
    queries = [f"{rng.choice(ADJS)} {rng.choice(NOUNS)} {rng.choice(VERBS)} {rng.choice(WORDS).lower()}"
               for _ in range(args.queries)]
    with Store(args.out) as store:
        db = store._db
        n_rows = db.execute("SELECT count(*) FROM text_fields").fetchone()[0]
        n_nodes = db.execute("SELECT count(*) FROM nodes").fetchone()[0]
        emb = RandomQueries("minilm" if args.embed else "random")
        lines.append(f"{n_nodes} nodes, {n_rows} text rows; store {size / 2**20:.0f} MiB (SQLite file + WAL)")
        sm._MEMORY.clear()
        sr = sm.Searcher.for_store(store, emb)
        t = time.perf_counter()
        m = sr.matrix()
        lines.append(f"first search in a process: vector matrix from SQL or .npy cache {time.perf_counter() - t:.2f} s "
                     f"({m.mat.shape[0]} x {m.mat.shape[1]} {m.mat.dtype}, {m.mat.nbytes / 2**20:.0f} MiB)")
        sm._MEMORY.clear()
        t = time.perf_counter()
        m = sm.Searcher.for_store(store, emb).matrix()
        lines.append(f"next process: matrix from the .npy cache (memory-mapped) {time.perf_counter() - t:.2f} s")
        sr = sm.Searcher.for_store(store, emb)
        np.asarray(m.mat).sum()  # page the matrix in, as any warm server has
        for mode in ("lexical", "dense", "hybrid"):
            for scope in ("library", "one video"):
                ts = []
                for i, q in enumerate(queries):
                    trees = [f"scale{i % 1000:04d}-key"] if scope == "one video" else None
                    t = time.perf_counter()
                    sr.search(q, mode=mode, top=10, trees=trees)
                    ts.append(1000 * (time.perf_counter() - t))
                lines.append(f"{mode:8s} {scope:10s} p50 {pct(ts, 50):7.1f} ms  p95 {pct(ts, 95):7.1f} ms  "
                             f"({len(ts)} queries, top 10, query vector given)")
        ts = []
        for q in queries:
            t = time.perf_counter()
            sr.videos(q, top=10)
            ts.append(1000 * (time.perf_counter() - t))
        lines.append(f"hybrid   by video   p50 {pct(ts, 50):7.1f} ms  p95 {pct(ts, 95):7.1f} ms  "
                     f"({len(ts)} queries, top 10 videos, query vector given)")
        try:
            from videonav.tools.embed import make_embedder

            e = make_embedder()
            e.encode(["warm up"])
            ts = []
            for q in queries[:50]:
                t = time.perf_counter()
                e.encode([q + " x"])
                ts.append(1000 * (time.perf_counter() - t))
            lines.append(f"MiniLM query encode p50 {pct(ts, 50):.1f} ms p95 {pct(ts, 95):.1f} ms (add to dense/hybrid)")
        except Exception as ex:  # noqa: BLE001 - a missing model only drops this line
            lines.append(f"MiniLM query encode: not measured ({ex})")
        if not args.no_ann:
            from videonav.memory import text_index as ti

            exact = ti.vector_rows(db, sr.embedder_id)[1]  # the stored float32 vectors, not the float16 cache
            ann_compare(exact, emb.encode(queries[:100]), lines, hnsw=not args.no_hnsw)
    text = "\n".join(lines)
    if args.save:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        with RESULTS.open("a", encoding="utf-8") as f:
            f.write(text + "\n\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
