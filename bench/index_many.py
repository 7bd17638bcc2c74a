"""Throughput of ``videonav index`` over a library: plain loop vs Ray with 1 and 2 workers.

    python bench/index_many.py                                  # 6 generated 10-min samples + the shared clips
    python bench/index_many.py --rounds 2 --out bench/results/index_many.txt
    python bench/index_many.py --modes loop,ray1 --videos DIR    # your own folder of videos
    python bench/index_many.py --modes loop,ray1,ray1-plain     # the lean cluster start vs ray.init's

One worker is one core. Every mode gets ``--set captioner.ocr_workers=1`` unless ``--set`` is
given, and runs in a fresh child process confined to as many cores as it has workers (``loop`` and
``ray1``: one core, ``ray2``: two; ``loop-ocr2``, the loop as it runs by default with two OCR
processes per video: two) -- the driver, Ray's own processes, workers and tesseract included, so
Ray's overhead is paid from the same cores as the work. Inside a Ray mode each task is pinned to a
core of its own (``pin_cpus``, the default of a local cluster). ``--no-pin`` runs every mode
unconfined, to see what a "one CPU" task really uses.

Each mode runs on a fresh store (same videos, classic captioner), so imports, Ray's cluster start
and worker start-up are all counted: a Ray mode calls the library as ``videonav index --ray``
does, which starts its lean local head (:mod:`videonav.agent.ray_cluster`: no autoscaler monitor,
log monitor or API server) while the driver probes the videos, and stops it at the end.
``rayN-plain`` runs the same with Ray's own ``ray.init`` cluster (``VIDEONAV_RAY_LEAN=0``).
Reported per mode: video seconds indexed per wall second end to end, and (Ray) the same with the
cluster start taken out ("cluster": what the driver waited for its cluster after probing the
videos). ``MODE-warm`` times only the library call, after the cluster is up, one task per worker
has imported the indexer and 3 s have passed for Ray's agents to finish starting (the loop: after
the same imports and pause), which is what a long-running cluster (``ray start`` once,
``--address auto``) sees. Also: the CPU seconds
of the mode's whole process tree (:class:`TreeCPU`; driver, Ray workers with their OCR, Ray's own
daemons) and the cores busy (CPU / wall); "indexer": the indexer's own wall and CPU seconds summed
over the videos (``index_seconds`` / ``index_cpu_seconds`` of each result, timed the same way in the
loop and inside a Ray task, so their ratio says whether a video costs more inside a worker).
Modes run side by side in each round and the load
average is read before each, because on a shared machine only ratios measured together mean
anything; the CPU-share check says whether this session could use both cores at all.

Targets (issue 17, 2-core machine): ray2 >= 1.7x ray1; ray1 within 15% of the loop.
Samples: ``videonav.tools.video.sample_video`` with ``--minutes M --seed S`` for S = 200, 201, ...
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLIPS = ROOT.parent / "shared" / "data" / "clips"
CACHE = Path(tempfile.gettempdir()) / "videonav-bench-index-many"

CHILD = r"""
import json, os, sys, time
t0 = time.perf_counter()
from videonav.agent.config import load_config
from videonav.agent.library import index_library, resolve_jobs
mode, store, sets, pin, videos = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), sys.argv[4] == "1", sys.argv[5:]
warm = mode.endswith("-warm")  # time the library only: cluster up, workers started, indexer imported
mode = mode.removesuffix("-warm")
cfg = load_config(None, [*sets, f"store.path={json.dumps(store)}"])
jobs = resolve_jobs(videos)
cluster = 0.0
if mode.startswith("ray"):
    n = int(mode[3:])
    if warm:  # a cluster already up (the library's own lean start, or ray.init with VIDEONAV_RAY_LEAN=0)
        import ray
        from videonav.agent.ray_cluster import connect, stop
        up = connect(ray, "local", n)
        def prewarm():
            import videonav.tools.video.index
            time.sleep(0.5)  # hold the worker, so each of the N tasks starts its own
        ray.get([ray.remote(num_cpus=1)(prewarm).remote() for _ in range(n)])
        time.sleep(3)  # Ray's agents finish starting, as on a cluster that is already up
        cluster = up.seconds
    # as `videonav index --ray --workers N` runs: the library starts (or joins) the cluster and stops it
    res = index_library(jobs, cfg, use_ray=True, workers=n, pin_cpus=pin)
    if warm:
        stop(ray, up)
    else:
        cluster = res.startup_seconds
else:
    if warm:
        import videonav.tools.video.index
        time.sleep(3)
    res = index_library(jobs, cfg)
d = res.as_dict()
print(json.dumps({"mode": mode, "process_seconds": time.perf_counter() - t0, "cluster_seconds": cluster,
                  "library_seconds": res.wall_seconds, "video_seconds": d["video_seconds"],
                  "indexed": d["indexed"], "failed": d["failed"],
                  "busy_seconds": sum(r["wall_seconds"] for r in d["results"]),
                  "index_seconds": sum(r["index_seconds"] or 0 for r in d["results"]),
                  "index_cpu_seconds": sum(r["index_cpu_seconds"] or 0 for r in d["results"]),
                  "cores": len(os.sched_getaffinity(0)),
                  "task_cores": sorted({str(o.summary.get("cores")) for o in res.outcomes if o.status == "indexed"})}))
"""


BURN = "import time\nt = time.time()\nwhile time.time() - t < 3: pass\nprint(time.process_time())"


def cpu_share() -> tuple[float, float]:
    """CPU seconds one busy process gets in 3 s, and two together in the same 3 s (this session).

    Why: with ``sched_autogroup`` (Linux's default on desktops and here) CPU time is shared fairly
    between *sessions*, so on a busy machine a session's share is fixed and a second worker only
    halves the first one's time: 2 workers cannot beat 1 until the machine is quiet. The second
    number is ~2x the first on an idle 2-core machine and ~1x when the share is capped.
    """
    def burn(n: int) -> float:
        ps = [subprocess.Popen([sys.executable, "-c", BURN], stdout=subprocess.PIPE, text=True) for _ in range(n)]
        return sum(float(p.communicate()[0]) for p in ps)
    return burn(1), burn(2)


def samples(n: int, minutes: float, out: Path) -> list[Path]:
    from videonav.tools.video.sample_video import main as make

    got = []
    tag = f"{minutes:g}min"
    for seed in range(200, 200 + n):
        d = out / (f"s{seed}" if tag == "3min" else f"m{minutes:g}-s{seed}")
        video = d / f"sample_{tag}.mp4"
        if not video.exists():
            make(["--minutes", f"{minutes:g}", "--seed", str(seed), "--out", str(d)])
        got.append(video)
    return got


class TreeCPU:
    """CPU seconds of a process tree, sampled every 50 ms (psutil) while it runs.

    Why not ``getrusage(RUSAGE_CHILDREN)``: Ray's raylet does not wait for its workers, so their
    time never reaches any parent's rusage. A process counts its own user+system time as last
    seen, plus the children time it gained by waiting for children that were not seen alive at
    all or only partly (tesseract runs, short-lived daemons): ``children - sum(last seen time of
    its children that ended before its own last sample)``, so nothing is counted twice.
    """

    def __init__(self, pid: int) -> None:
        import threading

        import psutil

        self._root = psutil.Process(pid)
        # (pid, start) -> name, parent (pid, start) or None, own CPU, children CPU, sample number
        self._seen: dict[tuple[int, float], tuple[str, tuple[int, float] | None, float, float, int]] = {}
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self) -> None:
        import psutil

        tick = 0
        while not self._stop.is_set():
            tick += 1
            try:
                procs = [self._root, *self._root.children(recursive=True)]
            except psutil.Error:
                return
            for q in procs:
                try:
                    with q.oneshot():
                        ct, par = q.cpu_times(), q.parent()
                        self._seen[(q.pid, q.create_time())] = (
                            q.name(), (par.pid, par.create_time()) if par else None, ct.user + ct.system,
                            ct.children_user + ct.children_system, tick)
                except psutil.Error:
                    pass
            self._stop.wait(0.05)

    def stop(self) -> dict[str, float]:
        """CPU seconds by group: driver, work (Ray workers + their OCR), ray (Ray's own daemons)."""
        self._stop.set()
        self._t.join()
        root = (self._root.pid, self._root.create_time())
        ended_kids: dict[tuple[int, float], float] = {}
        for _name, par, own, kids, tick in self._seen.values():
            if par in self._seen and tick < self._seen[par][4]:
                ended_kids[par] = ended_kids.get(par, 0.0) + own + kids
        out = {"driver": 0.0, "work": 0.0, "ray": 0.0}
        for key, (name, _par, own, kids, _tick) in self._seen.items():
            group = "driver" if key == root else "work" if name.startswith("ray::") and "Agent" not in name \
                else "ray"
            if name == "tesseract":  # OCR belongs to the process that ran it
                group = "driver" if _par == root else "work"
            out[group] += own + max(0.0, kids - ended_kids.get(key, 0.0))
        return out


def autogroup() -> str:
    """This process's scheduling group (``sched_autogroup``): CPU is shared fairly between groups,
    whatever ``nice`` the processes inside them have."""
    try:
        return Path("/proc/self/autogroup").read_text().strip()
    except OSError:
        return "n/a"


def run_mode(mode: str, videos: list[Path], sets: list[str], pin: bool) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    if "-plain" in mode:  # Ray's own ray.init cluster instead of the library's lean head
        env["VIDEONAV_RAY_LEAN"] = "0"
        mode = mode.replace("-plain", "")
    base = mode.removesuffix("-warm")
    cores = 2 if base == "loop-ocr2" else int(base[3:]) if base.startswith("ray") else 1
    if base == "loop-ocr2":  # the loop as users run it by default: 2 OCR processes inside one video
        mode = mode.replace("loop-ocr2", "loop")
        sets = [*[s for s in sets if not s.startswith("captioner.ocr_workers=")], "captioner.ocr_workers=2"]
    mask = set(sorted(os.sched_getaffinity(0))[:cores]) if pin else None
    with tempfile.TemporaryDirectory(prefix=f"idxmany-{mode}-") as d:
        load = os.getloadavg()[0]
        t0 = time.perf_counter()
        p = subprocess.Popen([sys.executable, "-c", CHILD, mode, str(Path(d) / "s.sqlite"), json.dumps(sets),
                              "1" if pin else "0", *map(str, videos)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                             preexec_fn=(lambda: os.sched_setaffinity(0, mask)) if mask else None)
        meter = TreeCPU(p.pid)
        out, err = p.communicate()
        wall = time.perf_counter() - t0
        cpu = meter.stop()
        if p.returncode != 0:
            raise SystemExit(f"{mode} failed:\n{err[-3000:]}")
        r = json.loads(out.strip().splitlines()[-1])
        r.update(wall_seconds=wall, load1=load, cpu_seconds=sum(cpu.values()), cpu_by=cpu)
        r["busy_cores"] = r["cpu_seconds"] / wall
        if mode.endswith("-warm"):  # the library alone, on a cluster (or process) already up
            r["vsps"] = r["vsps_warm"] = r["video_seconds"] / max(1e-9, r["library_seconds"])
        else:
            r["vsps"] = r["video_seconds"] / wall
            r["vsps_warm"] = r["video_seconds"] / max(1e-9, wall - r["cluster_seconds"])
        inside = 0.0 if mode.endswith("-warm") else r["cluster_seconds"]  # the library's own cluster start
        r["concurrency"] = r["busy_seconds"] / max(1e-9, r["library_seconds"] - inside)  # ~workers when they overlap
        return r


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=6, help="generated samples (seeds 200, 201, ...)")
    ap.add_argument("--minutes", type=float, default=10.0, help="length of each generated sample")
    ap.add_argument("--no-pin", action="store_true",
                    help="do not confine modes to their cores nor pin Ray tasks (to see what they really use)")
    ap.add_argument("--videos", type=Path, help="a folder of videos instead of samples + shared clips")
    ap.add_argument("--modes", default="loop,ray1,ray2,loop-warm,ray1-warm,ray2-warm,loop-ocr2",
                    help="loop, rayN (N workers), loop-ocr2 (the loop with 2 OCR processes per video); "
                         "MODE-warm times the library alone, after start-up; rayN-plain: ray.init's cluster")
    ap.add_argument("--set", action="append", default=None, metavar="KEY=VALUE",
                    help="config overrides for every mode (default: captioner.ocr_workers=1: a worker is a CPU)")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--no-history", action="store_true", help="overwrite --out instead of keeping it below")
    ap.add_argument("--note", default="", help="a line written above the results (how the run was done)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "index_many.txt")
    args = ap.parse_args(argv)
    if args.videos:
        from videonav.agent.library import resolve_jobs

        videos = [j.path for j in resolve_jobs([args.videos])]
    else:
        videos = samples(args.samples, args.minutes, CACHE)
        videos += sorted(p for p in CLIPS.glob("*") if p.is_file()) if CLIPS.is_dir() else []
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    sets = args.set if args.set is not None else ["captioner.ocr_workers=1"]
    from videonav.tools.video.probe import probe

    lengths = [probe(v).duration for v in videos]
    uptime_before = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    share_before = cpu_share()
    rows: dict[str, list[dict]] = {m: [] for m in modes}
    for rnd in range(args.rounds):
        for m in modes:
            r = run_mode(m, videos, sets, not args.no_pin)
            rows[m].append(r)
            print(f"round {rnd + 1} {m:5s}: {r['video_seconds']:.0f} video-s in {r['wall_seconds']:.1f} s = "
                  f"{r['vsps']:.1f} video-s/s (without cluster start {r['vsps_warm']:.1f}; cluster "
                  f"{r['cluster_seconds']:.1f} s; videos in flight {r['concurrency']:.2f}; {r['cpu_seconds']:.1f} "
                  f"CPU-s = {r['busy_cores']:.2f} cores busy of {r['cores']} (driver {r['cpu_by']['driver']:.1f}, "
                  f"indexer {r['index_seconds']:.1f} s / {r['index_cpu_seconds']:.1f} CPU-s, "
                  f"workers {r['cpu_by']['work']:.1f}, Ray daemons {r['cpu_by']['ray']:.1f}); tasks on cores "
                  f"{' '.join(r['task_cores'])}; load1 {r['load1']:.1f})",
                  flush=True)
    uptime_after = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    share_after = cpu_share()
    med = {m: statistics.median(r["vsps"] for r in rs) for m, rs in rows.items()}
    warm = {m: statistics.median(r["vsps_warm"] for r in rs) for m, rs in rows.items()}
    total = rows[modes[0]][0]["video_seconds"]
    conf = ("unconfined (--no-pin): every mode may use every core, Ray tasks not pinned" if args.no_pin else
            "each mode confined to as many cores as workers (loop, ray1: 1; ray2, loop-ocr2: 2), "
            "driver and Ray's own processes included; each Ray task pinned to a core of its own")
    lines = [f"bench/index_many.py: {len(videos)} videos, {total:.0f} s of video (lengths "
             f"{', '.join(f'{x:.0f}' for x in lengths)} s), classic captioner, {os.cpu_count()} CPUs, "
             f"{args.rounds} round(s), modes side by side, --set {' '.join(sets)}",
             f"(one worker = one core: {conf}; OCR single-threaded; loop-ocr2 = the default loop, 2 OCR "
             "processes per video)",
             f"uptime before: {uptime_before}", f"uptime after:  {uptime_after}",
             f"scheduling group of this bench: {autogroup()}",
             f"CPU share of this session in 3 s (1 busy process -> 2 busy processes): before {share_before[0]:.2f} "
             f"-> {share_before[1]:.2f} s, after {share_after[0]:.2f} -> {share_after[1]:.2f} s (an idle 2-core "
             "machine gives 3 -> 6 s; ~equal numbers mean the share is capped and 2 workers cannot beat 1)", ""]
    lines += [f"{m:5s} median {med[m]:6.1f} video-s/s end to end, {warm[m]:6.1f} without cluster start; "
              f"runs: " + ", ".join(f"{r['wall_seconds']:.1f} s (in flight {r['concurrency']:.2f}, "
                                    f"{r['cpu_seconds']:.0f} CPU-s = {r['busy_cores']:.2f} of {r['cores']} cores, "
                                    f"indexer {r['index_seconds']:.1f} s / {r['index_cpu_seconds']:.1f} CPU-s, "
                                    + (f"cluster {r['cluster_seconds']:.1f} s, Ray daemons "
                                       f"{r['cpu_by']['ray']:.1f} CPU-s, " if m.startswith("ray") else "")
                                    + f"load1 {r['load1']:.1f})" for r in rows[m])
              for m in modes]
    if "ray1" in med and "ray2" in med:
        lines.append(f"ray2 / ray1 = {med['ray2'] / med['ray1']:.2f}x end to end, "
                     f"{warm['ray2'] / warm['ray1']:.2f}x without cluster start (target >= 1.7x)")
    if "ray1" in med and "loop" in med:
        lines.append(f"ray1 / loop = {med['ray1'] / med['loop']:.2f} end to end, "
                     f"{warm['ray1'] / med['loop']:.2f} without cluster start (target >= 0.85)")
    if "ray1-warm" in med and "ray2-warm" in med:
        lines.append(f"ray2-warm / ray1-warm = {med['ray2-warm'] / med['ray1-warm']:.2f}x (cluster already up; "
                     "target >= 1.7x)")
    if "ray1-warm" in med and "loop-warm" in med:
        lines.append(f"ray1-warm / loop-warm = {med['ray1-warm'] / med['loop-warm']:.2f} (cluster already up, "
                     "imports done; target >= 0.85)")
    for a, b in (("ray1", "loop"), ("ray2", "ray1"), ("ray1-plain", "loop"), ("ray2-plain", "ray1-plain")):
        if a in rows and b in rows:  # paired by round: the load changes between rounds
            lines.append(f"{a} / {b} per round: " + ", ".join(
                f"{x['vsps'] / y['vsps']:.2f}" for x, y in zip(rows[a], rows[b], strict=True)))
    for a, b in (("ray1", "loop"), ("ray1-warm", "loop-warm")):
        if a in rows and b in rows:  # the indexer itself, inside a worker vs in the loop (same videos)
            lines.append(f"indexer in {a} / in {b}, per round: wall " + ", ".join(
                f"{x['index_seconds'] / y['index_seconds']:.3f}" for x, y in zip(rows[a], rows[b], strict=True))
                + "; CPU " + ", ".join(f"{x['index_cpu_seconds'] / y['index_cpu_seconds']:.3f}"
                                       for x, y in zip(rows[a], rows[b], strict=True)))
    if "ray1-plain" in med and "loop" in med:
        lines.append(f"ray1-plain / loop = {med['ray1-plain'] / med['loop']:.2f} end to end (ray.init's own cluster)")
    for base in ("loop", "loop-ocr2"):
        if "ray2" in med and base in med:
            lines.append(f"ray2 / {base} = {med['ray2'] / med[base]:.2f} end to end")
    text = "\n".join(([f"note: {args.note}"] if args.note else []) + lines) + "\n"
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    old = args.out.read_text() if args.out.exists() else ""
    args.out.write_text(text + (f"\nearlier runs (history):\n{old}" if old and not args.no_history else ""))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
