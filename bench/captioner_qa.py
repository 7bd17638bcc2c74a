"""Usage: python bench/captioner_qa.py STORE NAME OUT.jsonl KEY=VALUE... [--seeds=200,...] [--dir=out/capqa]
(KEY=VALUE: the overrides it was indexed with; videos DIR/seed<N>/sample_15min.mp4, default seeds 200-204).

Only the colour-shape questions of bench/answers.py's generated videos, on an already indexed store
(same config path: load_config overrides, open_source, harness.evaluate with the guided strategy)."""
import json
import sys
import time
from pathlib import Path

from videonav.agent.config import load_config
from videonav.agent.evaluation.datasets import load_videonav
from videonav.agent.evaluation.harness import evaluate
from videonav.agent.runtime import build_runtime
from videonav.tools.video.index import open_source

store, name, out = sys.argv[1], sys.argv[2], sys.argv[3]
sets = [a for a in sys.argv[4:] if not a.startswith("--")]
opts = dict(a[2:].split("=", 1) for a in sys.argv[4:] if a.startswith("--") and "=" in a)
seeds = [int(x) for x in opts.get("seeds", "200,201,202,203,204").split(",")]
folder = Path(opts.get("dir", "out/capqa"))
cfg = load_config(overrides=[f"store.path={store}", *sets])
rt = build_runtime(cfg, need_llm=False)
records = []
t0 = time.perf_counter()
for seed in seeds:
    video = folder / f"seed{seed}" / "sample_15min.mp4"
    source = open_source(video, cfg, rt.store, lazy=False)
    for kind in ("questions", "freetext"):
        qs = [q for q in load_videonav(video.with_name(f"sample_15min.{kind}.json"), video=str(video))
              if q.type == "colour-shape"]
        for q in qs:
            q.qid = f"s{seed}:{q.qid}"
        records += evaluate(qs, lambda _v, s=source: s, ["guided"], cfg, rt.llm, rt.embedder, rt.scorer, 12, None,
                            lambda d, n, m: None)
Path(out).write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
for fmt in ("mc", "free"):
    rs = [r for r in records if r["format"] == fmt]
    ok = sum(bool(r["correct"]) for r in rs)
    print(f"{name} colour-shape {fmt}: {ok}/{len(rs)} = {ok / max(len(rs), 1):.1%}")
print(f"{time.perf_counter() - t0:.0f} s")
