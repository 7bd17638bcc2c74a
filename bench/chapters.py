"""Chapter benchmark: NExT-QA composites (each video = one true chapter) and generated sample videos.

    python bench/chapters.py                       # 50 composites, 3 x 60-min sample videos (seeds 200-202)
    python bench/chapters.py --composites 0 --sample-seeds 200,201,202 --llm-samples 1   # sample videos only
    python bench/chapters.py --composites 10 --llm-composites 0 --embedder hashing --sample-minutes 0  # quick

(a) Composites: ``--composites`` deterministic draws (``--seed``) of 3-8 NExT-QA val videos whose
1-fps captions are played back to back; the true chapters are the videos. Trees are built with
the default 5-s leaves; their internal captions use the hashing summariser (the tree is the
input here, not what is measured). (b) Sample videos from ``videonav.tools.video.sample_video``
(``--sample-seeds``, from 200-299 only: other seeds are kept for checks this bench must not
see), ``--sample-minutes`` long, indexed once with the classic captioner into ``--workdir``
(reused on later runs); their chapters have true topics, shown on chapter cards.

Rows, all in the same run: the trivial baseline (uniform split into the true number of
chapters), our segmenter with the true count ("fixed") and with the automatic count, and
extractive vs planner-LLM titles (the LLM rows run on the first ``--llm-composites`` composites
and the first ``--llm-samples`` sample videos; the extractive row beside them is measured on
the same subset).

Columns: F1@tIoU = segment F1 averaged over tIoU 0.5-0.95; P/R@3s, P/R@5s = chapter-start
precision/recall (video start excluded); K = mean predicted chapters (true K in the header);
title = title similarity (MiniLM cosine). NExT-QA has no human titles, so there the title
column is the cosine between the title and the centroid of the true chapter's captions
("title-content"), which favours titles built from caption words; the sample videos have real
titles, and "topic in title" = share of true chapters whose best-overlapping predicted title
contains the true topic. "grounded sentences" = summary sentences whose content words all occur
in their chapter's captions. sec = mean seconds per video for chaptering + titling (tree
building excluded). The LLM note says how often its title and summary passed the checks.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from videonav.agent.chapters.build import (
    Chapter,
    ChapterConfig,
    make_chapters,
    uniform_chapters,
    unit_text,
    units_of,
)
from videonav.agent.chapters.metrics import boundary_pr, segment_f1_avg, title_similarity
from videonav.agent.chapters.titles import ChapterWriter
from videonav.memory.builders import build_from_timed_text
from videonav.memory.formats import CaptionSource
from videonav.memory.tree import CaptionTree, TimedText
from videonav.tools.embed import Embedder, ExtractiveSummariser, HashingEmbedder, split_sentences

ROOT = Path(__file__).resolve().parents[1]
NEXTQA = ROOT / ".." / "shared" / "data" / "nextqa" / "captions_1fps.zip"


Composite = tuple[str, list[TimedText], list[tuple[float, float]]]


def composites(n: int, lo: int, hi: int, seed: int) -> list[Composite]:
    src = CaptionSource(NEXTQA)
    ids = src.ids()
    rng = random.Random(seed)
    out = []
    for i in range(n):
        vids = rng.sample(ids, rng.randint(lo, hi))
        lines, truth, t = [], [], 0.0
        for v in vids:
            vl = src.get(v)
            dur = max(x.end for x in vl)
            lines += [TimedText(start=x.start + t, end=x.end + t, text=x.text) for x in vl]
            truth.append((t, t + dur))
            t += dur
        out.append((f"comp{i:03d}", lines, truth))
    return out


def chapters_for_spans(tree: CaptionTree, spans: Sequence[tuple[float, float]],
                       writer: ChapterWriter) -> list[Chapter]:
    """Title fixed spans (the uniform baseline) with the same writer as our chapters."""
    units = units_of(tree)
    groups = []
    for s, e in spans:
        inside = [u for u in units if s <= (u.start + u.end) / 2 < e]
        groups.append(inside or [min(units, key=lambda u, s=s: abs(u.start - s))])
    writer.set_chapters([[unit_text(u) for u in g] for g in groups])
    out = []
    for (s, e), inside in zip(spans, groups, strict=True):
        raw = [[ln.text for ln in u.lines] for u in inside]
        w = writer.write([unit_text(u) for u in inside], "", (s, e), raw=raw)
        out.append(Chapter(start=s, end=e, title=w.title, summary=w.summary, source=w.source,
                           node_ids=[u.id for u in inside]))
    return out


def content_similarity(chs: Sequence[Chapter], truth: Sequence[tuple[float, float]], tree: CaptionTree,
                       emb: Embedder) -> float:
    """Cosine of each true chapter's caption centroid (its leaves) with the best-overlapping title."""
    units = units_of(tree)
    vals = []
    for ts, te in truth:
        best = max(chs, key=lambda c: max(0.0, min(te, c.end) - max(ts, c.start)))
        texts = [unit_text(u) for u in units if ts <= (u.start + u.end) / 2 < te] or [unit_text(units[0])]
        cen = emb.encode(texts).mean(axis=0)
        cen /= max(float(np.linalg.norm(cen)), 1e-9)
        vals.append(float(emb.encode([best.title])[0] @ cen))
    return float(np.mean(vals)) if vals else 0.0


Row = dict[str, Any]


def score(chs: Sequence[Chapter], truth: Sequence[tuple[float, float]], title: float, sec: float) -> Row:
    spans = [(c.start, c.end) for c in chs]
    p3, r3 = boundary_pr(spans, truth, 3)
    p5, r5 = boundary_pr(spans, truth, 5)
    return {"f1": segment_f1_avg(spans, truth), "p3": p3, "r3": r3, "p5": p5, "r5": r5, "k": len(chs),
            "title": title, "sec": sec, "llm_titles": sum(c.source in ("llm", "mixed") for c in chs)}


def run_methods(tree: CaptionTree, truth: Sequence[tuple[float, float]], emb: Embedder,
                writers: dict[str, ChapterWriter], title_fn: Callable[[list[Chapter]], float],
                which: Sequence[str], tree_truth: Sequence[tuple[float, float, str]] = ()) -> dict[str, Row]:
    k = len(truth)
    out: dict[str, Row] = {}
    for name in which:
        t0 = time.perf_counter()
        if name.startswith("uniform"):
            chs = chapters_for_spans(tree, uniform_chapters(tree.duration, k), writers["extractive"])
        else:
            count = k if "fixed" in name else None
            writer = writers["llm" if name.endswith("llm") else "extractive"]
            chs = make_chapters(tree, emb, writer, ChapterConfig(count=count))
        sec = time.perf_counter() - t0
        out[name] = score(chs, truth, title_fn(chs), sec)
        out[name]["titles"] = [c.title for c in chs]
        out[name]["summaries"] = [c.summary for c in chs]
        out[name]["grounded"] = summary_grounding(chs, tree)
        if tree_truth:
            out[name]["topic"] = topic_hits(chs, tree_truth)
    return out


def table(title: str, rows: dict[str, list[Row]], note: str = "") -> str:
    """Means per method; ``topic`` (true topic in the title) where the truth has titles; ``grounded`` =
    summary sentences whose content words all occur in their chapter's captions."""
    topic = any("topic" in r for rs in rows.values() for r in rs)
    head = (f"| {title} | n | K | F1@tIoU.5:.95 | P@3s | R@3s | P@5s | R@5s | title sim | "
            + ("topic in title | " if topic else "") + "grounded sentences | sec/video |")
    lines = [head, "|" + "---|" * (12 if topic else 11)]
    for name, rs in rows.items():
        if not rs:
            continue
        cols = ("k", "f1", "p3", "r3", "p5", "r5", "title", "sec")
        m = {c: float(np.mean([r[c] for r in rs])) for c in cols}
        ok, tot = sum(r["grounded"][0] for r in rs), sum(r["grounded"][1] for r in rs)
        tcol = f"{float(np.mean([r.get('topic', 0.0) for r in rs])):.3f} | " if topic else ""
        lines.append(f"| {name} | {len(rs)} | {m['k']:.1f} | {m['f1']:.3f} | {m['p3']:.3f} | {m['r3']:.3f} | "
                     f"{m['p5']:.3f} | {m['r5']:.3f} | {m['title']:.3f} | {tcol}{ok}/{tot} | {m['sec']:.2f} |")
    return "\n".join(lines) + (f"\n{note}" if note else "")


def make_llm_writer(emb: Embedder) -> ChapterWriter | None:
    try:
        from videonav.agent.config import PlannerConfig
        from videonav.agent.llm.base import make_llm

        llm = make_llm(PlannerConfig.model_validate({"backend": "transformers"}))
    except Exception as e:  # the bench reports the reason and keeps the extractive rows
        print(f"[bench] no LLM rows: {type(e).__name__}: {e}", file=sys.stderr)
        return None
    # a short prompt (6 captions of <= 40 words): a 135M model on a shared CPU needs ~1 min per 1k tokens
    return ChapterWriter(emb, llm, max_prompt_captions=6, caption_words=40)


def topic_hits(chs: Sequence[Chapter], truth: Sequence[tuple[float, float, str]]) -> float:
    """Share of true chapters whose most-overlapping predicted chapter's title contains the true topic."""
    hits = []
    for ts, te, title in truth:
        best = max(chs, key=lambda c: max(0.0, min(te, c.end) - max(ts, c.start)))
        hits.append(title.lower() in best.title.lower())
    return float(np.mean(hits)) if hits else 0.0


def summary_grounding(chs: Sequence[Chapter], tree: CaptionTree) -> tuple[int, int]:
    """(summary sentences whose content words all occur in their chapter's captions, all sentences)."""
    from videonav.agent.chapters.titles import ungrounded_words

    by_id = {u.id: u for u in units_of(tree)}
    ok = total = 0
    for c in chs:
        units = [by_id[i] for i in c.node_ids if i in by_id]
        source = " ".join([*(unit_text(u) for u in units), *(u.transcript or "" for u in units),
                           *(ln.text for u in units for ln in u.lines)])
        for sent in split_sentences(c.summary):
            total += 1
            ok += not ungrounded_words(sent, source)
    return ok, total


def sample_video(workdir: Path, minutes: float, emb: Embedder, writers: dict[str, ChapterWriter],
                 which: Sequence[str], seed: int = 200) -> tuple[dict[str, Row], dict[str, Any]] | None:
    import subprocess

    from videonav.memory.config import TreeConfig
    from videonav.memory.store import Store
    from videonav.tools.config import CaptionerConfig, EmbedderConfig
    from videonav.tools.video.index import index_video

    out = workdir / f"seed{seed}"
    out.mkdir(parents=True, exist_ok=True)
    stem = f"sample_{minutes:g}min"
    video, events = out / f"{stem}.mp4", out / f"{stem}.events.json"
    if not video.exists() or not events.exists():
        cmd = [sys.executable, "-m", "videonav.tools.video.sample_video", "--minutes", f"{minutes:g}",
               "--seed", str(seed), "--out", str(out)]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    gt = json.loads(events.read_text(encoding="utf-8"))
    t0 = time.perf_counter()
    with Store(workdir / "store.sqlite") as store:
        ecfg = EmbedderConfig(model="hashing" if emb.name == "hashing" else None)
        res = index_video(video, store=store, tree=TreeConfig(), captioner=CaptionerConfig(backend="classic"),
                          embedder=ecfg, lazy=False)
        scan = store.cache_get(f"scan:{res.tree_key}") or {}
    tree = res.tree
    tree.meta["shot_cuts"] = [float(c) for c in scan.get("cuts", [])]
    info = {"index_seconds": round(time.perf_counter() - t0, 1), "leaves": len(tree.leaves()),
            "duration": tree.duration, "true": [c["title"] for c in gt["chapters"]]}
    truth = [(float(c["start"]), float(c["end"])) for c in gt["chapters"]]
    true_t = [(float(c["start"]), float(c["end"]), str(c["title"])) for c in gt["chapters"]]

    def title_fn(chs: list[Chapter]) -> float:
        return title_similarity([(c.start, c.end, c.title) for c in chs], true_t, emb.encode)

    rows = run_methods(tree, truth, emb, writers, title_fn, which, tree_truth=true_t)
    return rows, info


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--composites", type=int, default=50)
    ap.add_argument("--min-videos", type=int, default=3)
    ap.add_argument("--max-videos", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--embedder", choices=("minilm", "hashing"), default="minilm")
    ap.add_argument("--llm-composites", type=int, default=3,
                    help="composites that also get LLM titles (0 = none)")
    ap.add_argument("--sample-minutes", type=float, default=60.0, help="synthetic video length (0 = skip)")
    ap.add_argument("--sample-seeds", default="200,201,202", help="generator seeds, from 200-299 only")
    ap.add_argument("--llm-samples", type=int, default=1, help="sample videos that also get LLM titles")
    ap.add_argument("--workdir", type=Path, default=ROOT / "runs" / "bench_chapters")
    ap.add_argument("--json", type=Path, help="also write per-video rows here")
    args = ap.parse_args(argv)

    if args.embedder == "minilm":
        from videonav.tools.embed import MiniLMEmbedder

        emb: Embedder = MiniLMEmbedder()
    else:
        emb = HashingEmbedder()
    writers = {"extractive": ChapterWriter(emb)}
    llm_writer = make_llm_writer(emb) if args.llm_composites > 0 else None
    if llm_writer is not None:
        writers["llm"] = llm_writer
    base = ["uniform (true K)", "ours fixed K, extractive", "ours auto K, extractive"]
    llm_rows = ["ours fixed K, extractive", "ours fixed K, llm"] if llm_writer is not None else []
    per_video: dict[str, Any] = {"composites": [], "sample": None}
    sections = []

    if NEXTQA.exists() and args.composites > 0:
        comps = composites(args.composites, args.min_videos, args.max_videos, args.seed)
        cheap = ExtractiveSummariser(HashingEmbedder())
        t0 = time.perf_counter()
        trees = [build_from_timed_text(name, lines, cheap, leaf_seconds=5.0) for name, lines, _ in comps]
        warm = [unit_text(u) for t in trees for u in units_of(t)]
        warm += [s for t in trees for u in units_of(t) for s in split_sentences(unit_text(u))]
        emb.encode(list(dict.fromkeys(warm)))  # one batched pass; every later encode is a cache hit
        prep = time.perf_counter() - t0
        rows: dict[str, list[Row]] = {n: [] for n in base}
        sub: dict[str, list[Row]] = {n: [] for n in llm_rows}
        for i, ((name, _lines, truth), tree) in enumerate(zip(comps, trees, strict=True)):
            def title_fn(chs: list[Chapter], _t: Any = truth, _tree: Any = tree) -> float:
                return content_similarity(chs, _t, _tree, emb)

            r = run_methods(tree, truth, emb, writers, title_fn, base)
            for n in base:
                rows[n].append(r[n])
            if i < args.llm_composites and llm_rows:
                r2 = run_methods(tree, truth, emb, writers, title_fn, llm_rows[1:])
                sub[llm_rows[0]].append(r[llm_rows[0]])
                sub[llm_rows[1]].append(r2[llm_rows[1]])
                r.update(r2)
            per_video["composites"].append({"name": name, "true_k": len(truth), "duration": tree.duration,
                                            "rows": r})
        ks = [len(t) for _, _, t in comps]
        durs = [t.duration for t in trees]
        note = (f"{len(comps)} composites (seed {args.seed}), true K {np.mean(ks):.1f} "
                f"(range {min(ks)}-{max(ks)}), duration {np.mean(durs):.0f} s mean; embedder {emb.name}; "
                f"trees + embeddings prepared in {prep:.0f} s")
        sections.append(table("NExT-QA composites", rows, note))
        if sub and any(sub.values()):
            n_llm = sum(r["llm_titles"] for r in sub[llm_rows[1]])
            n_all = sum(r["k"] for r in sub[llm_rows[1]])
            model = writers["llm"].llm.model_id if writers["llm"].llm else ""
            sections.append(table(f"NExT-QA, LLM subset ({model})", sub,
                                  f"LLM title/summary used for {n_llm}/{n_all} chapters; the rest fell back"))
    elif args.composites > 0:
        print(f"[bench] {NEXTQA} not found: no composite rows", file=sys.stderr)

    seeds = [int(x) for x in args.sample_seeds.split(",") if x.strip()]
    if args.sample_minutes > 0 and any(not 200 <= x <= 299 for x in seeds):
        print("--sample-seeds: use seeds from 200-299 (the others are kept for checks)", file=sys.stderr)
        return 2
    if args.sample_minutes > 0 and seeds:
        srows: dict[str, list[Row]] = {}
        notes, per_video["sample"] = [], []
        for vi, seed in enumerate(seeds):
            which = base + (llm_rows[1:] if llm_rows and vi < args.llm_samples else [])
            got = sample_video(args.workdir, args.sample_minutes, emb, writers, which, seed)
            if got is None:
                continue
            res, info = got
            per_video["sample"].append({"seed": seed, "info": info, "rows": res})
            for n, r in res.items():
                srows.setdefault(n, []).append(r)
            notes.append(f"seed {seed}: {info['duration']:.0f} s, true {info['true']}, {info['leaves']} leaves, "
                         f"indexed/loaded in {info['index_seconds']} s; titles: "
                         + "; ".join(f"{n}: {r['titles']}" for n, r in res.items()))
        if "llm" in writers:
            st, rej = writers["llm"].stats, writers["llm"].rejected
            notes.append(f"LLM ({writers['llm'].llm.model_id if writers['llm'].llm else ''}) over all its rows: "
                         f"{st['llm_calls']} calls, title kept {st['llm_titles']}, summary kept "
                         f"{st['llm_summaries']}; rejections {rej}")
        sections.append(table(f"sample videos ({args.sample_minutes:g} min, seeds {seeds})", srows,
                              "\n".join(notes)))
    print("\n\n".join(sections))
    if args.json:
        args.json.write_text(json.dumps(per_video, indent=1, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
