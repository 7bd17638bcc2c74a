"""Retrieval quality of ``videonav search``: dense only, lexical only and hybrid; original vs supplemented.

Three tasks, each scored for every (mode, text) pair:

- **nextqa** video retrieval: the 570 NExT-QA val videos of the shared 1-fps captions; query =
  question + correct answer, target = its video. R@1/5/10 and median rank; videos are ranked by
  ``Searcher.videos`` (tools/search_videos.py: per-video scores: dense best row; lexical = the
  video as one BM25 document and its best row; z-fusion for hybrid; a video lexical search does
  not return counts as rank = number of videos).
- **nextgqa** moment retrieval: NExT-GQA val questions, search inside the question's video, query
  = question + answer, target = the evidence spans. R@1 at IoU 0.3 / 0.5 (top leaf vs the best
  evidence span) and the mean IoU of the top leaf.
- **library**: sample videos (``tools/video/sample_video.py``, 10 min, seeds 200-204) indexed with
  ``videonav index`` into one store; queries from their events files (on-screen numbers, cities
  and scene titles; narrated secret words) and question + answer from their question files. A
  hit is correct when it is in the right video and at least half of it lies inside the target span.

"original" searches only each node's ``caption`` field; "supplemented" also its speech and every
timed line (1-fps captions, subtitle cues) as fields of their own (memory/text_index.py).
NExT-QA trees are built with the hashing summariser (parent captions are extractive summaries;
only the retrieval vectors are MiniLM) so the store builds in minutes on two cores.

    python bench/retrieval.py nextqa nextgqa --store /tmp/vn-retrieval.sqlite
    # fusion settings are chosen with --split tune (alias fit) and reported with --split held (halves of the val videos)
    python bench/retrieval.py nextqa nextgqa --store /tmp/vn-retrieval.sqlite --split held
    # moments as spans: the top leaf grown over adjacent leaves among the 2 best (Searcher.search grow=2)
    python bench/retrieval.py nextgqa --store /tmp/vn-retrieval.sqlite --split held --grow 2
    for S in 200 201 202 203 204; do
      python demos/make_sample_video.py --minutes 10 --seed $S --out /tmp/vnlib/s$S
      videonav index /tmp/vnlib/s$S/sample_10min.mp4 --store /tmp/vnlib/lib.sqlite --set embedder.model=hashing
    done
    python bench/retrieval.py library --store /tmp/vnlib/lib.sqlite --library /tmp/vnlib
    # tables are appended to bench/results/retrieval.txt with --save
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
RESULTS = Path(__file__).resolve().parent / "results" / "retrieval.txt"
MODES = ("dense", "lexical", "hybrid")
TEXTS = {"original": ("caption",), "supplemented": None}


SPLIT = "all"
GROW = 0  # nextgqa: the top leaf widened over adjacent leaves among the GROW best (Searcher.search grow)


def in_split(video: str, keys: dict[str, str], split: str) -> bool:
    """Fusion settings were picked on ``tune`` (questions of the first half of the sorted video
    ids); ``held`` is the other half, the one to report. Both rank against every video."""
    if split == "all":
        return True
    split = "tune" if split == "fit" else split
    ids = sorted(keys)
    first = video in set(ids[:len(ids) // 2])
    return first if split == "tune" else not first


def iou(a: tuple[float, float], b: tuple[float, float]) -> float:
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    return inter / union if union > 0 else 0.0


def table(title: str, rows: list[dict[str, Any]]) -> str:
    cols = list(dict.fromkeys(c for r in rows for c in r))
    fmt = [f"{r[c]:.3f}" if isinstance(r.get(c), float) else str(r.get(c, "")) for r in rows for c in cols]
    w = [max(len(c), *(len(fmt[i * len(cols) + j]) for i in range(len(rows)))) for j, c in enumerate(cols)]
    out = [title, "  ".join(c.ljust(w[j]) for j, c in enumerate(cols))]
    for i in range(len(rows)):
        out.append("  ".join(fmt[i * len(cols) + j].ljust(w[j]) for j in range(len(cols))))
    return "\n".join(out)


def build_nextqa(store: Any, data: Path, videos: int | None, seed_dir: Path | None, embedder: Any
                 ) -> dict[str, str]:
    """Import the shared caption files as text trees; {video id: tree key}. ``videos`` keeps the
    first N of a fixed shuffled order (bench/fit_answerer.py's ``video_order``); ``seed_dir`` takes
    MiniLM vectors of identical texts that fit_answerer.py cached (``caps/<video>.npy``, ``qa.npy``)
    instead of embedding them again: the same model, so the same vectors, only cheaper."""
    import numpy as np

    from videonav.memory import text_index as ti
    from videonav.memory.config import TreeConfig
    from videonav.memory.formats import CaptionSource
    from videonav.tools.embed import HashingEmbedder
    from videonav.tools.text_source import text_tree, text_tree_key

    src = CaptionSource(data / "nextqa" / "captions_1fps.zip")
    cfg, summ_emb = TreeConfig(), HashingEmbedder()
    ids = src.ids()
    if videos:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from fit_answerer import video_order

        ids = video_order(ids)[:videos]
    keys = {}
    seeded = 0
    for vid in ids:
        lines = src.get(vid)
        text_tree(vid, lines, cfg, summ_emb, store)
        keys[vid] = text_tree_key(lines, cfg, summ_emb)
        cached = seed_dir / "caps" / f"{vid}.npy" if seed_dir else None
        texts = list(dict.fromkeys(t.text for t in lines))
        if cached is not None and cached.exists() and getattr(embedder, "name", "") == "minilm":
            vecs = np.load(cached)
            if len(vecs) == len(texts):
                ti.put_vectors(store._db, f"minilm:{vecs.shape[1]}", [ti.text_hash(t) for t in texts], vecs)
                seeded += len(texts)
    if seed_dir and (seed_dir / "qa.npy").exists() and getattr(embedder, "name", "") == "minilm":
        import csv

        from videonav.agent.scorer import GENERIC_TEXTS

        rows = list(csv.DictReader(open(data / "nextqa" / "val.csv", encoding="utf-8")))
        qa = list(dict.fromkeys([r["question"] for r in rows] + [r[f"a{i}"] for r in rows for i in range(5)]
                                + [f"{r['question']} {r[f'a{i}']}" for r in rows for i in range(5)] + GENERIC_TEXTS))
        vecs = np.load(seed_dir / "qa.npy")
        if len(vecs) == len(qa):
            embedder._cache.update(zip(qa, vecs, strict=True))
    print(f"{len(keys)} videos; {seeded} caption vectors taken from {seed_dir}", file=sys.stderr)
    return keys


def run_grid(name: str, searcher: Any, n: int, score: Callable[[Any, str, tuple[str, ...] | None], dict[str, float]]
             ) -> list[dict[str, Any]]:
    rows = []
    for text, fields in TEXTS.items():
        for mode in MODES:
            t0 = time.perf_counter()
            r = score(mode, text, fields)
            rows.append({"mode": mode, "text": text, "n": n, **r,
                         "ms/query": 1000 * (time.perf_counter() - t0) / max(1, n)})
            print(f"{name} {mode}/{text}: {r}", file=sys.stderr, flush=True)
    return rows


def nextqa(searcher: Any, keys: dict[str, str], data: Path, limit: int | None) -> list[dict[str, Any]]:
    from videonav.agent.evaluation.datasets import load_nextqa

    qs = [q for q in load_nextqa(data / "nextqa" / "val.csv") if q.video in keys and q.truth is not None
          and in_split(q.video, keys, SPLIT)]
    if limit:
        qs = qs[:: max(1, len(qs) // limit)][:limit]
    nvid = len(keys)

    def score(mode: str, _text: str, fields: tuple[str, ...] | None) -> dict[str, float]:
        ranks = []
        for q in qs:
            hits = searcher.videos(f"{q.question} {q.options[q.truth]}", top=nvid, mode=mode, fields=fields)
            order = [h.video_id for h in hits]
            ranks.append(order.index(q.video) + 1 if q.video in order else nvid)
        return {"R@1": sum(r <= 1 for r in ranks) / len(ranks), "R@5": sum(r <= 5 for r in ranks) / len(ranks),
                "R@10": sum(r <= 10 for r in ranks) / len(ranks), "median_rank": float(statistics.median(ranks))}

    return run_grid("nextqa", searcher, len(qs), score)


def nextgqa(searcher: Any, keys: dict[str, str], data: Path, limit: int | None) -> list[dict[str, Any]]:
    from videonav.agent.evaluation.datasets import load_nextgqa

    qs = [q for q in load_nextgqa(data / "nextgqa" / "val.csv", data / "nextgqa" / "gsub_val.json")
          if q.video in keys and q.evidence and in_split(q.video, keys, SPLIT)]
    if limit:
        qs = qs[:: max(1, len(qs) // limit)][:limit]

    def score(mode: str, _text: str, fields: tuple[str, ...] | None) -> dict[str, float]:
        ious = []
        for q in qs:
            answer = q.truth_text or (q.options[q.truth] if q.truth is not None else "")
            hits = searcher.search(f"{q.question} {answer}", trees=[keys[q.video]], top=1, level="leaf",
                                   mode=mode, fields=fields, grow=GROW)
            ious.append(max((iou((hits[0].start, hits[0].end), tuple(e)) for e in q.evidence), default=0.0)
                        if hits else 0.0)
        return {"R@1_IoU0.3": sum(x >= 0.3 for x in ious) / len(ious),
                "R@1_IoU0.5": sum(x >= 0.5 for x in ious) / len(ious), "mean_IoU": sum(ious) / len(ious)}

    return run_grid("nextgqa", searcher, len(qs), score)


def library_queries(folder: Path, trees: dict[str, str]) -> list[dict[str, Any]]:
    """(query, kind, video tree key, target span) from every sample's events and question files."""
    out = []
    for ev_path in sorted(folder.glob("*/*.events.json")):
        tk = trees.get(str(ev_path.with_name(ev_path.name.replace(".events.json", ".mp4")).resolve()))
        if tk is None:
            continue
        ev = json.loads(ev_path.read_text(encoding="utf-8"))
        for s in ev["events"]:
            span = (s["start"], s["end"])
            if s["kind"] == "scene":
                out.append({"q": f"the number {s['number']}", "kind": "on-screen number", "tree": tk, "span": span,
                            "fact": str(s["number"])})
                out.append({"q": s["title"].title(), "kind": "on-screen title", "tree": tk, "span": span,
                            "fact": s["title"]})
            if "city" in s:
                out.append({"q": f"city {s['city'].title()}", "kind": "on-screen city", "tree": tk, "span": span,
                            "fact": s["city"]})
            if "word" in s:
                out.append({"q": f"secret word {s['word'].lower()}", "kind": "spoken word", "tree": tk, "span": span,
                            "fact": s["word"]})
        for q in json.loads(ev_path.with_name(ev_path.name.replace(".events.json", ".questions.json")).read_text()):
            out.append({"q": f"{q['question']} {q['options'][q['answer']]}", "kind": f"question:{q['type']}",
                        "tree": tk, "span": tuple(q["evidence"][0])})
    return out


def _in_leaf(db: Any, q: dict[str, Any]) -> bool:
    """Whether a leaf of the target video overlapping the target span contains the fact at all."""
    from videonav.memory import text_index as ti

    rows = db.execute('SELECT DISTINCT node_id FROM text_fields WHERE tree_key=? AND instr(upper(text), ?) '
                      'AND start < ? AND "end" > ?', (q["tree"], q["fact"].upper(), q["span"][1], q["span"][0]))
    keys = [(q["tree"], n) for (n,) in rows]
    return any(ti.leaf_flags(db, keys))


def library(searcher: Any, folder: Path) -> list[dict[str, Any]]:
    """R@1 of the top leaf, two scopes: the whole library (only facts that occur once in it: every
    sample draws its cities and numbers from the same pools, so 'city Accra' may be on screen in
    three videos) and within the target video (every query)."""
    db = searcher.db
    trees = {}  # by the indexed file (tree meta 'source'): every sample video is called sample_10min
    for tk, meta in db.execute("SELECT tree_key, meta FROM trees ORDER BY created"):
        src = json.loads(meta or "{}").get("source")
        if src:
            trees[str(Path(src).resolve())] = tk
    qs = library_queries(folder, trees)
    seen: dict[str, int] = {}
    for q in qs:
        if "fact" in q:
            seen[q["fact"].upper()] = seen.get(q["fact"].upper(), 0) + 1
    kinds = sorted({q["kind"] for q in qs}, key=lambda k: (k.startswith("question"), k))
    rows = []
    for scope in ("library (unique facts)", "one video"):
        for text, fields in TEXTS.items():
            for mode in MODES:
                right: dict[str, list[bool]] = {}
                for q in qs:
                    if scope.startswith("library") and ("fact" not in q or seen[q["fact"].upper()] > 1):
                        continue
                    hits = searcher.search(q["q"], top=1, level="leaf", mode=mode, fields=fields,
                                           trees=None if scope.startswith("library") else [q["tree"]])
                    ok = bool(hits) and hits[0].tree_key == q["tree"] and \
                        max(0.0, min(hits[0].end, q["span"][1]) - max(hits[0].start, q["span"][0])) >= \
                        0.5 * (hits[0].end - hits[0].start)
                    right.setdefault(q["kind"], []).append(ok)
                    if q["kind"].startswith("on-screen"):
                        right.setdefault("on-screen (all)", []).append(ok)
                        if _in_leaf(db, q):
                            right.setdefault("on-screen (fact in a leaf)", []).append(ok)
                row: dict[str, Any] = {"scope": scope, "mode": mode, "text": text}
                for k in ["on-screen (all)", "on-screen (fact in a leaf)", *kinds]:
                    if k in right:
                        row[f"{k} n={len(right[k])}"] = sum(right[k]) / len(right[k])
                rows.append(row)
                print(f"library {row}", file=sys.stderr, flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    global MODES, SPLIT, GROW
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("tasks", nargs="+", choices=["nextqa", "nextgqa", "library"])
    ap.add_argument("--data", default=str(SHARED))
    ap.add_argument("--store", required=True, help="SQLite store to build (nextqa/nextgqa) or read (library)")
    ap.add_argument("--library", default="/tmp/vnlib", help="folder of sample videos (one sub-folder each)")
    ap.add_argument("--limit", type=int, default=None, help="questions per task (evenly spaced), default all")
    ap.add_argument("--videos", type=int, default=None, help="nextqa/nextgqa: only the first N videos (fixed order)")
    ap.add_argument("--seed-vectors", default=None, help="folder of fit_answerer.py's cached MiniLM vectors")
    ap.add_argument("--embedder", default=None, help="embedder.model (default MiniLM; 'hashing' for a smoke run)")
    ap.add_argument("--modes", default=",".join(MODES), help="comma-separated subset of dense,lexical,hybrid")
    ap.add_argument("--split", choices=["all", "tune", "fit", "held"], default="all",
                    help="nextqa/nextgqa: questions of the tuning ('fit' is the same half) or the held-out half "
                         "of the val videos")
    ap.add_argument("--grow", type=int, default=0,
                    help="nextgqa: widen the top leaf over adjacent leaves among the N best (same for every mode)")
    ap.add_argument("--save", action="store_true", help=f"append the tables to {RESULTS}")
    args = ap.parse_args(argv)

    from videonav.memory.store import Store
    from videonav.tools.config import EmbedderConfig
    from videonav.tools.embed import make_embedder
    from videonav.tools.search import Searcher

    MODES = tuple(m for m in args.modes.split(",") if m in ("dense", "lexical", "hybrid"))
    SPLIT = args.split
    GROW = max(0, args.grow)
    data = Path(args.data)
    if {"nextqa", "nextgqa"} & set(args.tasks) and not (data / "nextqa" / "captions_1fps.zip").exists():
        print(f"shared NExT-QA data not found under {data}; pass --data", file=sys.stderr)
        return 2
    emb = make_embedder(EmbedderConfig(model=args.embedder)) if MODES != ("lexical",) else None
    out = []
    with Store(args.store) as store:
        searcher = Searcher.for_store(store, emb)
        keys: dict[str, str] = {}
        if {"nextqa", "nextgqa"} & set(args.tasks):
            t0 = time.perf_counter()
            keys = build_nextqa(store, data, args.videos, Path(args.seed_vectors) if args.seed_vectors else None,
                                emb)
            n = searcher.index_vectors()
            print(f"{len(keys)} trees ready, {n} texts embedded in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        for task in args.tasks:
            t0 = time.perf_counter()
            if task == "nextqa":
                rows, title = nextqa(searcher, keys, data, args.limit), "NExT-QA val video retrieval"
            elif task == "nextgqa":
                rows, title = nextgqa(searcher, keys, data, args.limit), "NExT-GQA val moment retrieval (top leaf)"
                if GROW:
                    title = title.replace("(top leaf)", f"(top leaf grown over adjacent leaves among the {GROW} best)")
            else:
                rows = library(searcher, Path(args.library))
                nv = store._db.execute("SELECT count(*) FROM trees").fetchone()[0]
                title = (f"Generated library, {nv} videos (R@1 of the top leaf: right video, at least half of it "
                         "inside the target span)")
            head = f"{title}; embedder {searcher.embedder_id}; {time.perf_counter() - t0:.0f} s"
            if task != "library" and SPLIT != "all":
                head += f"; {SPLIT} half of the val videos"
            scopes = list(dict.fromkeys(r.get("scope", "") for r in rows))
            text = "\n\n".join(table(f"{head}{'; ' + sc if sc else ''}", [r for r in rows if r.get("scope", "") == sc])
                                 for sc in scopes)
            print(text + "\n")
            out.append(text)
    if args.save:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        cmd = "python bench/retrieval.py " + " ".join(argv if argv is not None else sys.argv[1:])
        with RESULTS.open("a", encoding="utf-8") as f:
            f.write(f"$ {cmd}\n{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n\n" + "\n\n".join(out) + "\n\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
