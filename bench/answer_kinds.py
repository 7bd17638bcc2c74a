"""Free-text questions users ask beyond the generator's six types, on generated videos.

The generator knows when every slide is shown, what it shows and where the chapters begin, so
questions whose answer is a time, a count, the chapter topics or what is on screen at a moment
can be checked exactly (agent/answer_kinds.py, agent/time_anchor.py):

- ``when``: "When was the number N shown?" -> correct if the answer says "at MM:SS" inside the
  slide's span (+-2 s); a part-level range ("between A and B") that holds the slide is counted
  apart as ``range``;
- ``count``: "How many chapters are there?" -> the number of chapters;
- ``overview``: "What is this video about?" -> every chapter title is in the answer;
- ``at-time``: "What is shown at MM:SS?" (the middle of a slide) -> that slide's number or city;
- ``video-end``: "What is shown at the end of the video?" -> the last slide's number or city;
- ``nth-chapter``: "Which city is named in the third / last chapter?" (chapters naming one city).

    python bench/answer_kinds.py --videos SEED201/sample_60min.mp4,SEED233/...,SEED267/... \
        --store STORE.sqlite [--per-kind 6] [--save bench/results/answer_kinds.txt]

The store must hold the videos' trees (`videonav index`); it is copied, so asking writes its run
records to the copy. Guided strategy, prior-only planner (the defaults).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ORD = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth"]


def clock(t: float) -> str:
    t = int(t)
    return f"{t // 3600}:{t // 60 % 60:02d}:{t % 60:02d}" if t >= 3600 else f"{t // 60:02d}:{t % 60:02d}"


def seconds(text: str) -> list[float]:
    out = []
    for m in re.finditer(r"\b(?:(\d+):)?(\d{1,2}):(\d{2})\b", text):
        out.append(int(m.group(1) or 0) * 3600 + int(m.group(2)) * 60 + int(m.group(3)))
    return out


def fact(scene: dict) -> str:
    """The token that names what a slide shows: its number or its city."""
    return str(scene.get("city") or scene["number"])


def questions(events: dict, per_kind: int, rng: random.Random) -> list[dict]:
    scenes = [e for e in events["events"] if e["kind"] == "scene"]
    chapters = events["chapters"]
    out: list[dict] = []
    shown = [s for s in scenes if s.get("text") == f"NUMBER {s['number']}"]  # the number is on the slide
    for s in rng.sample(shown, min(per_kind, len(shown))):
        out.append({"kind": "when", "q": f"When was the number {s['number']} shown?", "span": [s["start"], s["end"]]})
    out.append({"kind": "count", "q": "How many chapters are there?", "truth": str(len(chapters))})
    out.append({"kind": "overview", "q": "What is this video about?", "titles": [c["title"] for c in chapters]})
    for s in rng.sample(scenes, min(per_kind, len(scenes))):
        t = int((s["start"] + s["end"]) / 2)
        out.append({"kind": "at-time", "q": f"What is shown at {clock(t)}?", "truth": fact(s)})
    out.append({"kind": "video-end", "q": "What is shown at the end of the video?", "truth": fact(scenes[-1])})
    one_city = []
    for k, c in enumerate(chapters):
        cities = {s["city"] for s in scenes if s.get("city") and c["start"] <= s["start"] < c["end"]}
        if len(cities) == 1:
            one_city.append((k, cities.pop()))
    for k, city in rng.sample(one_city, min(per_kind, len(one_city))):
        word = "last" if k == len(chapters) - 1 else ORD[k] if k < len(ORD) else None
        if word:
            out.append({"kind": "nth-chapter", "q": f"Which city is named in the {word} chapter?", "truth": city})
    return out


def judge(item: dict, answer: str) -> str:
    """'ok', 'range' (when: a range that holds the slide) or 'wrong'."""
    low = answer.lower()
    if item["kind"] == "when":
        a, b = item["span"]
        ts = seconds(answer)
        if answer.startswith("at ") and ts and a - 2 <= ts[0] <= b + 2:
            return "ok"
        if answer.startswith("between ") and len(ts) >= 2 and ts[0] <= a and b <= ts[1] + 2:
            return "range"
        return "wrong"
    if item["kind"] == "overview":
        return "ok" if all(t.lower() in low for t in item["titles"]) else "wrong"
    return "ok" if re.search(rf"\b{re.escape(item['truth'].lower())}\b", low) else "wrong"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--videos", required=True, help="comma-separated sample videos (their .events.json beside them)")
    ap.add_argument("--store", required=True)
    ap.add_argument("--per-kind", type=int, default=6)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--save", default="")
    args = ap.parse_args()
    from videonav.agent.api import Video

    videos = [Path(p) for p in args.videos.split(",")]
    for video in videos:
        ev = video.with_name(video.name.replace(".mp4", ".events.json"))
        if not video.is_file() or not ev.is_file():
            print(f"{video}: needs the video and its {ev.name} beside it (demos/make_sample_video.py writes both)",
                  file=sys.stderr)
            return 2
    if not Path(args.store).is_file():
        print(f"{args.store}: no such store; index the videos first (videonav index VIDEO --store S)", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="answer-kinds-"))
    store = tmp / "store.sqlite"
    shutil.copy(args.store, store)
    rows: list[dict] = []
    rng = random.Random(args.seed)
    t0 = time.perf_counter()
    for video in videos:
        events = json.loads(video.with_name(video.name.replace(".mp4", ".events.json")).read_text())
        items = questions(events, args.per_kind, rng)
        with Video.open(video, store=store, overrides=["planner.backend=none"]) as v:
            for it in items:
                res = v.ask(it["q"], None, "guided")
                rows.append({**it, "video": video.parent.name, "answer": res.answer, "verdict": judge(it, res.answer),
                             "confidence": res.confidence, "captions": res.cost.captions_read,
                             "seconds": res.cost.seconds})
                print(f"  {len(rows):3d} {video.parent.name} {it['kind']:<11} {rows[-1]['verdict']:<5} "
                      f"{it['q'][:50]!r} -> {res.answer[:60]!r}", file=sys.stderr)
    lines = [f"{len(args.videos.split(','))} videos, {len(rows)} questions, guided, prior-only planner, "
             f"{time.perf_counter() - t0:.0f} s in all",
             f"{'kind':<12} {'n':>3} {'correct':>8} {'range':>6} {'conf_ok':>8} {'conf_wrong':>10} "
             f"{'captions':>8} {'p50_s':>6}"]
    for kind in dict.fromkeys(r["kind"] for r in rows):
        rs = [r for r in rows if r["kind"] == kind]
        ok = [r for r in rs if r["verdict"] == "ok"]
        bad = [r for r in rs if r["verdict"] == "wrong"]
        rng_n = sum(r["verdict"] == "range" for r in rs)

        def mean(xs: list[float]) -> str:
            return f"{statistics.mean(xs):.2f}" if xs else "-"

        lines.append(f"{kind:<12} {len(rs):>3} {len(ok) / len(rs):>8.3f} {rng_n:>6} "
                     f"{mean([r['confidence'] for r in ok]):>8} {mean([r['confidence'] for r in bad]):>10} "
                     f"{statistics.mean(r['captions'] for r in rs):>8.1f} "
                     f"{statistics.median(r['seconds'] for r in rs):>6.2f}")
    print("\n".join(lines))
    if args.save:
        with open(args.save, "a") as f:
            f.write("\n".join(lines) + "\n")
    (tmp / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    print(f"records: {tmp / 'records.jsonl'}", file=sys.stderr)
    shutil.rmtree(tmp / "store.sqlite", ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
