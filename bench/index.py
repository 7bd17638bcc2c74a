"""Benchmark ``videonav index`` on the synthetic sample and compare with the decoding floor.

    python bench/index.py --minutes 60 --out sample          # generates the sample if missing
    python bench/index.py --video path/to/video.mp4 --json out.json

In one run: index the video from scratch (fresh temp store, classic captioner unless
``--captioner``), then decode *exactly the same frames* (every timestamp and width the indexer
read) with decord alone and with PyAV alone. The decord time is the "decoding floor" the
issue asks for: no indexer can be faster than reading its frames. Targets for a 1-hour
640x360 video on 2 cores: <= 3 min wall, <= 2 GiB peak RSS, <= 20% of wall outside decoding
and OCR (``other`` below).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def ensure_sample(minutes: float, out: Path) -> Path:
    video = out / f"sample_{minutes:g}min.mp4"
    if not video.exists():
        gen = Path(__file__).resolve().parents[1] / "demos" / "make_sample_video.py"
        subprocess.run([sys.executable, str(gen), "--minutes", f"{minutes:g}", "--out", str(out)], check=True)
    return video


def pct(seconds: float, wall: float) -> str:
    return f"{seconds:.1f} s ({seconds / wall:.0%})"


def floor(info, reads, kind: str) -> dict:
    """Decode the indexer's frames with one decoder; reads grouped as the indexer grouped them."""
    from videonav.tools.video.readers import DecordReader, PyAVReader

    reader = DecordReader(info) if kind == "decord" else PyAVReader(info)
    out = {"scan": 0.0, "caption": 0.0}
    t_all = time.perf_counter()
    for purpose, width, times in reads:
        t0 = time.perf_counter()
        if kind == "decord" and purpose == "scan":  # decord: one get_batch per chunk of the scan
            for lo in range(0, len(times), 120):
                reader.read(times[lo : lo + 120], width)
        else:
            reader.read(times, width)
        out[purpose] = out.get(purpose, 0.0) + time.perf_counter() - t0
    out["total"] = time.perf_counter() - t_all
    out["frames_decoded"] = reader.frames_decoded
    reader.close()
    return out


def dense_reads(info, kind: str, clips: int = 10, seconds: float = 2.0) -> float:
    """Seconds to read ``clips`` short windows at full frame rate (the pattern routed to decord)."""
    from videonav.tools.video.readers import DecordReader, PyAVReader

    reader = DecordReader(info) if kind == "decord" else PyAVReader(info)
    reader.read([0.0], 320)  # open (decord builds its frame index) outside the timing
    starts = [(k + 0.37) * info.duration / clips for k in range(clips)]
    t0 = time.perf_counter()
    for a in starts:
        reader.read([a + i / info.fps for i in range(int(seconds * info.fps))], 320)
    reader.close()
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--video", type=Path, help="video to index (default: the generated sample)")
    ap.add_argument("--minutes", type=float, default=60.0, help="sample length when --video is not given")
    ap.add_argument("--out", type=Path, default=Path("sample"), help="where the sample lives / is generated")
    ap.add_argument("--captioner", default="classic")
    ap.add_argument("--lazy", action="store_true")
    ap.add_argument("--no-floor", action="store_true", help="skip the decord / PyAV comparison")
    ap.add_argument("--json", type=Path, help="also write the numbers here")
    args = ap.parse_args(argv)

    video = args.video or ensure_sample(args.minutes, args.out)
    from videonav.memory.store import Store
    from videonav.tools.config import CaptionerConfig, EmbedderConfig
    from videonav.tools.video.index import index_video
    from videonav.tools.video.probe import probe

    with tempfile.TemporaryDirectory(prefix="videonav-bench-") as d, Store(Path(d) / "s.sqlite") as store:
        t0 = time.perf_counter()
        res = index_video(video, store=store, captioner=CaptionerConfig(backend=args.captioner),
                          embedder=EmbedderConfig(model="hashing"), lazy=args.lazy)
        wall = time.perf_counter() - t0
    rss_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    st = res.stats.as_dict()
    n_scan = sum(len(t) for p, _, t in res.reads if p == "scan")
    n_cap = sum(len(t) for p, _, t in res.reads if p == "caption")
    rows = [
        ("video", f"{video.name} ({st['video_seconds']:.0f} s)"),
        ("nodes / leaves / depth", f"{st['nodes']} / {st['leaves']} / {st['depth']}"),
        ("wall", f"{wall:.1f} s"),
        ("video-seconds per second", f"{st['video_seconds'] / wall:.1f}"),
        ("frames requested (scan thumbs + caption frames)", f"{n_scan} + {n_cap}"),
        ("frames decoded", f"{st['frames_decoded']}"),
        ("peak RSS of the indexer process", f"{rss_self:.0f} MiB"),
        ("decode (scan + caption reads, main thread)", pct(st["decode_seconds"], wall)),
        ("waiting on captioner (OCR, main thread)", pct(st["wait_seconds"], wall)),
        ("other (wall - decode - wait)", pct(st["other_seconds"], wall)),
        ("OCR inside captioner (overlaps decode)", f"{st['ocr_seconds']:.1f} s, {st['ocr_frames']} frames"),
        ("caption inside captioner incl. OCR", f"{st['caption_seconds']:.1f} s"),
    ]
    result: dict = {"index": st, "wall": wall, "rss_mib": rss_self}
    if not args.no_floor:
        info = probe(video)
        for kind in ("decord", "pyav"):
            f = floor(info, res.reads, kind)
            result[f"floor_{kind}"] = f
            rows.append((f"same frames with {kind} only (scan / caption / total)",
                         f"{f['scan']:.1f} / {f['caption']:.1f} / {f['total']:.1f} s, "
                         f"{f['frames_decoded']} decoded"))
        dense = {k: dense_reads(info, k) for k in ("decord", "pyav")}
        result["dense_reads"] = dense
        rows.append(("10 dense 2-s clip reads: decord / pyav",
                     f"{dense['decord']:.2f} / {dense['pyav']:.2f} s"))
    width = max(len(k) for k, _ in rows)
    print(f"| {'measure':<{width}} | value |\n|{'-' * (width + 2)}|-------|")
    for k, v in rows:
        print(f"| {k:<{width}} | {v} |")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
