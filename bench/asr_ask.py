"""Spoken-word questions through the product path: a narrated generated video WITHOUT subtitles,
indexed with pocketsphinx ASR, answered by the guided planner (``planner.backend=none``) with and
without the "Speech (spotted)" reads of :func:`videonav.tools.speech.choose.spoken_reads`.

    python bench/asr_ask.py --seed 208 --out /tmp/asrb/e2e

Unlike ``bench/asr.py`` (the question's chapter given), the audio searched is the top-level part
the question names or, failing that, the one the planner's visited reads point to
(``choose.focus_parts``); where the cue words are not heard there, no spotted read is added.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    import videonav.agent.planner as planner
    from videonav.agent.config import load_config
    from videonav.agent.evaluation.datasets import load_videonav
    from videonav.agent.evaluation.harness import evaluate
    from videonav.agent.runtime import build_runtime
    from videonav.tools.video import sample_video as gen
    from videonav.tools.video.index import open_source

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=208)
    ap.add_argument("--minutes", type=float, default=20.0)
    ap.add_argument("--out", type=Path, default=Path("out/asr_ask"))
    args = ap.parse_args(argv)
    folder = args.out / f"s{args.seed}"
    stem = f"sample_{args.minutes:g}min"
    video = folder / f"{stem}.mp4"
    if not video.exists():
        gen.main(["--minutes", f"{args.minutes:g}", "--seed", str(args.seed), "--out", str(folder), "--narrate",
                  "--no-srt"])
    if (folder / f"{stem}.srt").exists():
        raise SystemExit(f"bench/asr_ask.py: {folder / stem}.srt exists; this measures speech without subtitles")
    cfg = load_config(overrides=[f"store.path={args.out / 'store.sqlite'}", "planner.backend=none",
                                 "asr.backend=pocketsphinx"])
    rt = build_runtime(cfg, need_llm=False)
    t0 = time.perf_counter()
    source = open_source(video, cfg, rt.store, lazy=False)
    print(f"{video}: indexed in {time.perf_counter() - t0:.0f} s, speech from {source.tree.meta.get('subtitles')}")
    qs = [q for q in load_videonav(folder / f"{stem}.questions.json", video=str(video)) if q.type == "spoken-word"]
    hook = planner.spoken_reads
    for name, fn in [("with spotted speech", hook), ("without (captions and free-ASR text only)", None)]:
        planner.spoken_reads = fn or (lambda *a, **k: [])
        t1 = time.perf_counter()
        recs = evaluate(qs, lambda _v, s=source: s, ["guided"], cfg, None, rt.embedder, rt.scorer, 12, None, None)
        ok = sum(bool(r["correct"]) for r in recs)
        print(f"{name}: {ok}/{len(recs)} spoken-word MC right (chance 20%), {time.perf_counter() - t1:.0f} s")
    planner.spoken_reads = hook
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
