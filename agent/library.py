"""Index a whole library: many videos (paths, folders, a manifest), one after another or on Ray.

Why a module of its own: ``videonav index`` and the Python API both need "these videos, this
config, into this store, skipping what is done and carrying on past a bad file"; the CLI only
parses flags and prints. Correctness rules, the same in both modes:

- **One writer.** Only this process (the driver) writes the target store. Ray workers index into
  per-video *shard* stores and hand the tree back; :func:`videonav.agent.library_ray.merge_shard`
  copies it in (one transaction per tree).
- **Resumable per video.** A finished video leaves a ``library:done:...`` record (content hash +
  every setting that changes its tree) in the store; a rerun skips it.
- **Resumable per node.** The plain loop writes each caption as it is made (the indexer's own
  rule); a Ray worker does the same into its shard, which survives a killed driver.
- **One bad file does not stop the others**: each failure becomes one line in the result.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from videonav.agent.config import RunConfig, save_config
from videonav.memory.store import Store, file_hash

VIDEO_EXTS = (".mp4", ".mkv", ".avi", ".mov", ".webm", ".m4v", ".mpg", ".mpeg", ".ts", ".flv", ".wmv")
"""What a folder contributes (case-insensitive), unless ``exts`` says otherwise."""
JOB_KEYS = {"path", "subtitles", "entities", "lazy"}


class LibraryError(ValueError):
    """A path, folder or manifest that names no usable video; the message says which and how to fix it."""

    user_error = True


@dataclass(frozen=True)
class VideoJob:
    """One video to index and its per-video options (a JSONL manifest line may set them)."""

    path: Path
    subtitles: Path | None = None
    entities: tuple[str, ...] = ()
    lazy: bool | None = None  # None: the config's tree.lazy


@dataclass
class VideoOutcome:
    job: VideoJob
    status: str  # "indexed" | "skipped" (already done) | "failed"
    tree_key: str | None = None
    video_seconds: float = 0.0
    wall_seconds: float = 0.0
    error: str | None = None
    summary: dict[str, Any] = field(default_factory=dict)


@dataclass
class LibraryResult:
    outcomes: list[VideoOutcome]
    wall_seconds: float
    mode: str  # "loop" | "ray"
    startup_seconds: float = 0.0  # Ray: what the driver waited for its cluster, after its own checks

    @property
    def failed(self) -> list[VideoOutcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    def as_dict(self) -> dict[str, Any]:
        vs = sum(o.video_seconds for o in self.outcomes if o.status == "indexed")
        return {"mode": self.mode, "videos": len(self.outcomes),
                "indexed": sum(o.status == "indexed" for o in self.outcomes),
                "skipped": sum(o.status == "skipped" for o in self.outcomes), "failed": len(self.failed),
                "video_seconds": vs, "wall_seconds": self.wall_seconds, "startup_seconds": self.startup_seconds,
                "video_seconds_per_second": vs / self.wall_seconds if self.wall_seconds else 0.0,
                "results": [{"video": str(o.job.path), "status": o.status, "tree_key": o.tree_key,
                             "video_seconds": o.video_seconds, "wall_seconds": o.wall_seconds,
                             "error": o.error, "run_id": o.summary.get("run_id"),
                             "cores": o.summary.get("cores"), "index_seconds": o.summary.get("index_seconds"),
                             "index_cpu_seconds": o.summary.get("index_cpu_seconds")} for o in self.outcomes]}


OnVideo = Callable[[VideoOutcome, int, int], None]
"""``on_video(outcome, done, total)``: called after each video, for a progress bar over videos."""


# -- which videos ---------------------------------------------------------------------------
def _folder(d: Path, exts: Sequence[str]) -> list[Path]:
    want = {e.lower() if e.startswith(".") else "." + e.lower() for e in exts}
    return sorted(p for p in d.rglob("*") if p.is_file() and p.suffix.lower() in want)


def _manifest(path: Path) -> list[VideoJob]:
    """One path per line (``#`` comments, blank lines ignored) or JSONL objects with per-video options;
    relative paths are relative to the manifest's folder."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise LibraryError(f"--manifest {path}: cannot read it ({type(e).__name__}); pass a UTF-8 text file "
                           "with one video path per line or one JSON object per line") from None
    base, jobs = path.parent, []
    for no, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if not line.startswith("{"):
            jobs.append(VideoJob(_rel(base, line)))
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise LibraryError(f"--manifest {path} line {no}: not valid JSON ({e.msg}); write one object "
                               'per line such as {"path": "a.mp4", "lazy": true}') from None
        if not isinstance(obj, dict) or not isinstance(obj.get("path"), str):
            raise LibraryError(f"--manifest {path} line {no}: a JSON line needs a \"path\" string")
        extra = sorted(set(obj) - JOB_KEYS)
        if extra:
            raise LibraryError(f"--manifest {path} line {no}: unknown keys {extra}; allowed: {sorted(JOB_KEYS)}")
        ents = obj.get("entities", [])
        if isinstance(ents, str):
            ents = [e.strip() for e in ents.split(",")]
        lazy = obj.get("lazy")
        if not (isinstance(ents, list) and all(isinstance(e, str) for e in ents)) or \
                not (lazy is None or isinstance(lazy, bool)):
            raise LibraryError(f"--manifest {path} line {no}: \"entities\" must be a list of names and "
                               "\"lazy\" true or false")
        subs = obj.get("subtitles")
        jobs.append(VideoJob(_rel(base, obj["path"]), _rel(base, subs) if isinstance(subs, str) else None,
                             tuple(e for e in ents if e), lazy))
    if not jobs:
        raise LibraryError(f"--manifest {path}: no video listed; write one path per line")
    return jobs


def _rel(base: Path, p: str) -> Path:
    q = Path(p).expanduser()
    return q if q.is_absolute() else base / q


def resolve_jobs(paths: Iterable[Path | str] = (), manifest: Path | str | None = None,
                 exts: Sequence[str] = VIDEO_EXTS, subtitles: Path | None = None,
                 entities: Sequence[str] = ()) -> list[VideoJob]:
    """Every video named by ``paths`` (files as given, folders searched recursively by extension)
    and ``manifest``, first mention first, each resolved path once.

    A path that does not exist is kept (it is reported as that video's failure, so one typo does
    not stop a library); a folder with no video and an empty manifest raise :class:`LibraryError`.
    ``subtitles`` (one file) is only accepted for a single video.
    """
    jobs: list[VideoJob] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = _folder(p, exts)
            if not found:
                raise LibraryError(f"{p}: folder has no video files ({', '.join(exts)}); pass --ext to "
                                   "choose other extensions")
            jobs += [VideoJob(f) for f in found]
        else:
            jobs.append(VideoJob(p))
    if manifest is not None:
        jobs += _manifest(Path(manifest))
    if not jobs:
        raise LibraryError("no video given; pass video files, a folder or --manifest FILE")
    seen: set[Path] = set()
    out = []
    for j in jobs:
        key = j.path.resolve()
        if key in seen:
            continue
        seen.add(key)
        out.append(VideoJob(j.path, j.subtitles, j.entities or tuple(entities), j.lazy))
    if subtitles is not None:
        if len(out) != 1:
            raise LibraryError("--subtitles names one file for one video; for many videos use sidecar "
                               "files or a JSONL --manifest with a \"subtitles\" key per video")
        out[0] = VideoJob(out[0].path, subtitles, out[0].entities, out[0].lazy)
    return out


# -- done records and run records (shared with the Ray driver) --------------------------------
def job_config(job: VideoJob, cfg: RunConfig) -> RunConfig:
    if job.lazy is None or job.lazy == cfg.tree.lazy:
        return cfg
    return cfg.model_copy(update={"tree": cfg.tree.model_copy(update={"lazy": job.lazy})})


def done_key(job: VideoJob, cfg: RunConfig) -> str:
    """The store key saying "this content, with these settings, is indexed" (path-independent)."""
    c = job_config(job, cfg)
    blob = json.dumps({"video": c.video.model_dump(mode="json"), "tree": c.tree.model_dump(mode="json"),
                       "captioner": c.captioner.model_dump(mode="json"),
                       "embedder": c.embedder.model_dump(mode="json"), "entities": sorted(job.entities),
                       "subtitles": file_hash(job.subtitles) if job.subtitles else None}, sort_keys=True)
    return f"library:done:{file_hash(job.path)[:24]}:{hashlib.sha256(blob.encode()).hexdigest()[:16]}"


def already_done(store: Store, key: str) -> str | None:
    """The tree key recorded under ``key``, if that tree is still in the store."""
    got = store.cache_get(key)
    tk = got.get("tree_key") if isinstance(got, dict) else None
    return tk if isinstance(tk, str) and store.has_tree(tk) else None


def record_run(store: Store, cfg: RunConfig, job: VideoJob, tree_key: str, video_id: str,
               stats: dict[str, Any], done: str) -> dict[str, Any]:
    """The run record ``videonav index`` keeps (``runs`` table + ``<store dir>/runs/<id>.yaml``), then the
    done record: written last, so a kill in between only means the video is merged again."""
    run_id = f"index-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{tree_key[-8:]}-{uuid.uuid4().hex[:8]}"
    c = job_config(job, cfg)
    summary = {"run_id": run_id, "video": str(job.path), "tree_key": tree_key, "video_id": video_id,
               "store": str(store.path), "lazy": c.tree.lazy, **stats}
    store.save_run(run_id, "index", tree_key, c.model_dump(mode="json"), summary, [])
    runs = store.path.parent / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    save_config(c, runs / f"{run_id}.yaml")
    summary["config"] = str(runs / f"{run_id}.yaml")
    store.cache_put(done, {"tree_key": tree_key, "path": str(job.path.resolve()), "run_id": run_id})
    return summary


@contextlib.contextmanager
def timed(out: dict[str, float]) -> Iterator[None]:
    """Wall and CPU seconds of the block into ``out`` (``index_seconds``, ``index_cpu_seconds``).

    Why: the plain loop and a Ray worker run the same indexer; these say, per video, whether it
    costs more inside a worker. CPU is every thread of this process (a Ray worker's own threads
    included) plus the child processes it waited for in the block (tesseract)."""
    import resource

    def cpu() -> float:
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        return time.process_time() + kids.ru_utime + kids.ru_stime

    t0, c0 = time.perf_counter(), cpu()
    try:
        yield
    finally:
        out["index_seconds"], out["index_cpu_seconds"] = time.perf_counter() - t0, cpu() - c0


def error_line(e: BaseException) -> str:
    """One line for a failed video: the user-facing message, else the exception type and text."""
    from videonav.agent.errors import one_line, user_message

    return user_message(e) or one_line(f"{type(e).__name__}: {e}")


def fatal(e: BaseException) -> bool:
    """Errors that every other video would hit too (the store itself is broken): stop the run."""
    from videonav.memory.store import StoreError

    return isinstance(e, StoreError)


# -- the plain loop ------------------------------------------------------------------------------
class _Shared:
    """One captioner lent to each video (the loop's, a Ray worker's): the indexer closes what it is
    given, this stays open."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def close(self) -> None:
        pass


def shared(captioner: Any) -> Any:
    """``captioner`` lent to one video: the indexer's ``close`` leaves it open for the next."""
    return _Shared(captioner)


def index_library(jobs: Sequence[VideoJob], cfg: RunConfig, *, on_video: OnVideo | None = None,
                  use_ray: bool = False, **ray_options: Any) -> LibraryResult:
    """Index ``jobs`` into ``cfg.store.path``: one after another, or on Ray (``use_ray``; options of
    :func:`videonav.agent.library_ray.ray_index`: ``address``, ``workers``, ``shard_dir``, ...)."""
    if use_ray:
        from videonav.agent.library_ray import ray_index

        return ray_index(jobs, cfg, on_video=on_video, **ray_options)
    from videonav.agent.cpu_slots import pinned
    from videonav.tools.captioners.base import make_captioner
    from videonav.tools.video.index import index_video
    from videonav.tools.video.probe import probe

    t0 = time.perf_counter()
    outcomes: list[VideoOutcome] = []
    captioner: Any = None
    # one OCR process = one worker = one core (this thread and what it starts: decoder, OCR thread,
    # tesseract); the default ocr_workers > 1 keeps the machine's cores
    one_core = pinned(1, all_threads=False) if cfg.captioner.ocr_workers == 1 else contextlib.nullcontext()
    with one_core, Store(cfg.store.path) as store:
        try:
            for job in jobs:
                t1 = time.perf_counter()
                try:
                    probe(job.path)
                    done = done_key(job, cfg)
                    tk = already_done(store, done)
                    if tk is not None:
                        out = VideoOutcome(job, "skipped", tk)
                    else:
                        if captioner is None:
                            captioner = make_captioner(cfg.captioner)
                        c = job_config(job, cfg)
                        took: dict[str, float] = {}
                        with timed(took):
                            res = index_video(job.path, store=store, video=c.video, tree=c.tree,
                                              captioner=c.captioner, embedder=c.embedder, lazy=c.tree.lazy,
                                              subtitles=job.subtitles, entities=list(job.entities),
                                              captioner_impl=_Shared(captioner))
                        stats = res.stats.as_dict()
                        summary = {**record_run(store, cfg, job, res.tree_key, res.tree.video_id, stats, done),
                                   **took}
                        out = VideoOutcome(job, "indexed", res.tree_key, res.stats.video_seconds,
                                           time.perf_counter() - t1, summary=summary)
                except Exception as e:  # noqa: BLE001 - one bad file must not stop the library
                    if fatal(e):
                        raise
                    out = VideoOutcome(job, "failed", error=error_line(e), wall_seconds=time.perf_counter() - t1)
                outcomes.append(out)
                if on_video:
                    on_video(out, len(outcomes), len(jobs))
        finally:
            close = getattr(captioner, "close", None)
            if callable(close):
                close()
    return LibraryResult(outcomes, time.perf_counter() - t0, "loop")
