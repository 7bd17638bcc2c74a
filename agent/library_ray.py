"""The library on Ray: one task per video, per-video shard stores, one writer (the driver).

Why this shape:

- **One task per video, on the cores it holds** (``num_cpus=1``; ``OMP_THREAD_LIMIT=1``; on a
  local cluster the task is pinned to a core of its own, :mod:`videonav.agent.cpu_slots`, so
  FFmpeg's decoder threads, tesseract and the indexer's OCR thread share that one core instead of
  spreading over the node): a tree is built bottom-up, parents after their children, so a video is
  the natural unit of work; whole videos also keep each file's decoder sweeping forward.
- **Workers are reused**: Ray keeps a worker process for the next video, and the worker keeps its
  CPU captioner (built once per process and configuration, as the plain loop keeps one), so
  imports and model loads are paid once per worker, not per video. The driver hands a worker its
  next video before merging the last one, so merges do not leave a worker idle.
- **Shards, then one writer.** A task indexes into its own shard store
  (``<shard dir>/<video>.sqlite``; every caption is written as it is made, so a retried task or a
  rerun after a killed driver resumes per node) and returns the tree; the driver merges it into the
  target store (:func:`merge_payload`, one transaction per tree) and only then records the video
  as done. SQLite never sees two writers from two machines.
- **GPU captioners: actors that hold the model.** With ``actors > 0`` (default: one per GPU for the
  ``transformers`` / ``vllm`` backends), :class:`CaptionerActor` s load the model once
  (``num_gpus`` each); video tasks decode frames and send each batch of clips
  (``captioner.batch_size`` nodes) to their actor through :class:`RemoteCaptioner`. Ray Data's
  ``map_batches`` fits flat work; a caption tree is not flat (a parent waits for its children's
  captions and a node sees its previous sibling's), so batches are fed per level from the task.
- **Retries**: a worker process that dies is retried by Ray (``max_retries``); an error raised by
  the video itself (a bad file) is not retried, it is reported.
- **Start-up off the critical path**: a local cluster is a lean head
  (:mod:`videonav.agent.ray_cluster`: no autoscaler monitor, log monitor or API server, idle
  stand-ins for the raylet's two agents; ~2.5 CPU-s and a 1-s stop
  fewer than ``ray.init``'s) that comes up in a background thread while the driver
  hashes and probes the videos; a rerun with nothing left to do starts none. The next videos'
  shard stores are made ahead by the driver (:class:`~videonav.agent.ray_shards.ShardMaker`), so a
  task does not wait ~0.1 s of fsyncs for a fresh SQLite file.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from videonav.agent.config import RunConfig
from videonav.agent.library import (
    LibraryError,
    LibraryResult,
    OnVideo,
    VideoJob,
    VideoOutcome,
    already_done,
    done_key,
    error_line,
    fatal,
    job_config,
    record_run,
    shared,
    timed,
)
from videonav.agent.ray_cluster import Cluster, HeadThread, connect, lean_enabled, stop
from videonav.agent.ray_shards import ShardMaker, merge_payload, merge_store, remove_shard, shard_path
from videonav.memory.store import Store
from videonav.tools.config import CaptionerConfig

__all__ = ["CaptionerActor", "RemoteCaptioner", "index_into_shard", "merge_payload", "merge_store", "ray_index",
           "shard_path"]  # the shard helpers live in ray_shards
GPU_BACKENDS = ("transformers", "vllm")
CaptionerFactory = Callable[[CaptionerConfig], Any]


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise LibraryError("--ray needs Ray: pip install 'videonav[ray]' (or pip install 'ray>=2.40')") from None
    return ray


# -- worker side ------------------------------------------------------------------------------
class RemoteCaptioner:
    """A captioner whose model lives in a :class:`CaptionerActor`: the ``Captioner`` protocol, batched."""

    def __init__(self, actor: Any, info: dict[str, Any]) -> None:
        self.actor = actor
        self.name, self.model_id, self.prompt_version = info["name"], info["model_id"], info["prompt_version"]
        self.context_free = bool(info.get("context_free", False))

    def describe_batch(self, requests: Sequence[Any]) -> list[Any]:
        import ray

        return list(ray.get(self.actor.describe_batch.remote(list(requests))))

    def describe(self, frames: Sequence[Any], timestamps: Sequence[float], prompt: str, context: Any = None) -> Any:
        from videonav.tools.captioners.base import CaptionRequest

        req = CaptionRequest(frames=tuple(frames), timestamps=tuple(timestamps), prompt=prompt, context=context)
        return self.describe_batch([req])[0]


class CaptionerActor:
    """Holds one captioner (the model stays loaded) and captions batches of clips sent by video tasks."""

    def __init__(self, cfg: CaptionerConfig, factory: CaptionerFactory | None = None) -> None:
        from videonav.tools.captioners.base import make_captioner

        os.environ.setdefault("OMP_THREAD_LIMIT", "1")
        self.cap = (factory or make_captioner)(cfg)

    def info(self) -> dict[str, Any]:
        c = self.cap
        return {"name": c.name, "model_id": c.model_id, "prompt_version": c.prompt_version,
                "context_free": bool(getattr(c, "context_free", False)), "pid": os.getpid()}

    def describe_batch(self, requests: list[Any]) -> list[Any]:
        from videonav.tools.captioners.base import describe_many

        return describe_many(self.cap, requests)


_CAPTIONERS: dict[str, Any] = {}  # per worker process: CPU captioners kept between videos


def _worker_captioner(cfg: CaptionerConfig) -> Any:
    """This process's captioner for ``cfg``: built on its first video, lent to the next ones."""
    key = json.dumps(cfg.model_dump(mode="json"), sort_keys=True)
    if key not in _CAPTIONERS:
        from videonav.tools.captioners.base import make_captioner

        _CAPTIONERS[key] = make_captioner(cfg)
    return shared(_CAPTIONERS[key])


def index_into_shard(job: VideoJob, cfg: RunConfig, shard: Path, remote: RemoteCaptioner | None = None,
                     factory: CaptionerFactory | None = None, cpus: int = 1, pin: bool = False) -> dict[str, Any]:
    """Index one video into its shard store and return what the driver merges (runs on a worker).

    The task holds ``cpus`` CPUs and uses no more: tesseract single-threaded (``OMP_THREAD_LIMIT=1``),
    at most ``cpus`` OCR processes (``captioner.ocr_workers``: parallelism only, not in the tree key)
    and, with ``pin``, the whole process on ``cpus`` cores no other task of this node holds.
    """
    os.environ["OMP_THREAD_LIMIT"] = "1"
    from videonav.agent.cpu_slots import pinned

    with pinned(cpus) if pin else contextlib.nullcontext() as cores:
        out = _index_into_shard(job, cfg, shard, remote, factory, cpus)
    out["cores"] = sorted(cores) if cores else None
    return out


def _index_into_shard(job: VideoJob, cfg: RunConfig, shard: Path, remote: RemoteCaptioner | None,
                      factory: CaptionerFactory | None, cpus: int) -> dict[str, Any]:
    from videonav.tools.video.index import index_video

    c = job_config(job, cfg)
    if c.captioner.ocr_workers > cpus:
        c = c.model_copy(update={"captioner": c.captioner.model_copy(update={"ocr_workers": max(1, cpus)})})
    if remote is not None:
        impl: Any = remote
    elif factory is not None:
        impl = factory(c.captioner)
    elif c.captioner.backend in GPU_BACKENDS:
        impl = None  # a model without an actor: loaded per video (and freed), never kept by a worker
    else:
        impl = _worker_captioner(c.captioner)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        shard.parent.mkdir(parents=True, exist_ok=True)
        took: dict[str, float] = {}
        with Store(shard) as st:
            with timed(took):  # as the loop times it: the indexer alone
                res = index_video(job.path, store=st, video=c.video, tree=c.tree, captioner=c.captioner,
                                  embedder=c.embedder, lazy=c.tree.lazy, subtitles=job.subtitles,
                                  entities=list(job.entities), captioner_impl=impl)
            video = st.get_video(res.tree.video_id)
            scan = st.cache_get(f"scan:{res.tree_key}")
    return {"tree_key": res.tree_key, "tree": res.tree, "video": video, "scan": scan,
            "stats": res.stats.as_dict(), "warnings": sorted({str(w.message) for w in caught}),
            "pid": os.getpid(), "shard": str(shard), "took": took}


# -- driver side ------------------------------------------------------------------------------
def ray_index(jobs: Sequence[VideoJob], cfg: RunConfig, *, on_video: OnVideo | None = None,
              address: str | None = None, workers: int | None = None, shard_dir: Path | str | None = None,
              max_retries: int = 3, actors: int | None = None, actor_gpus: float = 1.0,
              captioner_factory: CaptionerFactory | None = None, keep_shards: bool = False,
              cpus_per_task: int = 1, pin_cpus: bool | None = None) -> LibraryResult:
    """Index ``jobs`` into ``cfg.store.path`` on Ray; the driver is the store's one writer.

    ``address``: ``None`` = ``RAY_ADDRESS`` or else a local cluster of ``workers`` CPUs; ``"auto"`` or
    ``host:port`` = an existing cluster (``workers`` then caps the tasks in flight). ``shard_dir``
    (default ``<store dir>/.videonav-shards``) must be reachable by the workers at the same path.
    ``actors``: captioner actors (default: one per cluster GPU for GPU backends, else none), each
    holding ``actor_gpus`` GPUs. ``captioner_factory`` builds the captioner instead of the registry.
    ``cpus_per_task``: CPUs each video task holds (and its OCR processes). ``pin_cpus``: pin each
    task to cores of its own (default: on a local cluster started here; other programs' tasks on a
    shared cluster are not pinned, so there it is opt-in).
    """
    ray = _import_ray()
    t0 = time.perf_counter()
    shards = Path(shard_dir) if shard_dir else Path(cfg.store.path).expanduser().resolve().parent / ".videonav-shards"
    outcomes: dict[int, VideoOutcome] = {}
    cluster, starting, maker = Cluster(), None, None
    try:
        with Store(cfg.store.path) as store:
            done: dict[int, tuple[str | None, str | None]] = {}  # cheap pass: done key, tree key if done
            for i, job in enumerate(jobs):
                try:
                    dk = done_key(job, cfg)
                    done[i] = (dk, already_done(store, dk))
                except Exception as e:  # noqa: BLE001 - a missing file: the probe below says so
                    if fatal(e):
                        raise
                    done[i] = (None, None)
            if any(tk is None and (dk is not None or jobs[i].path.is_file()) for i, (dk, tk) in done.items()):
                # the local cluster comes up while the driver probes the videos (a rerun with
                # nothing left to do, or only missing files, starts none)
                starting = _start_local(ray, address, workers * cpus_per_task if workers else None)
            todo = _prepare(jobs, cfg, done, outcomes, shards, keep_shards)
            for i in sorted(outcomes):
                if on_video:
                    on_video(outcomes[i], len(outcomes), len(jobs))
            if todo:
                if (address or os.environ.get("RAY_ADDRESS") or "local") == "local":
                    maker = ShardMaker(shards)
                    maker.ahead([job for _, job, _ in todo[:(workers or 1) + 1]])
                t1 = time.perf_counter()
                head, starting = starting, None  # from here on connect() owns it (stops it if unused)
                cluster = connect(ray, address, workers * cpus_per_task if workers else None, head,
                                  lean=False if head is not None else None)  # a failed lean start: not twice
                cluster.seconds = time.perf_counter() - t1  # what the driver waited for, after its own checks
                pin = cluster.local if pin_cpus is None else pin_cpus
                _run_tasks(ray, store, cfg, todo, outcomes, len(jobs), shards, on_video, workers, max_retries,
                           actors, actor_gpus, captioner_factory, keep_shards, cpus_per_task, pin, maker)
    finally:
        if maker is not None:
            maker.close()
        if starting is not None:  # started, never used (nothing to do, or the checks failed)
            starting.stop()
        stop(ray, cluster)
    return LibraryResult([outcomes[i] for i in range(len(jobs))], time.perf_counter() - t0, "ray",
                         startup_seconds=cluster.seconds)


def _start_local(ray: Any, address: str | None, num_cpus: int | None) -> HeadThread | None:
    """A lean local head starting in the background, when this run starts its own cluster."""
    if ray.is_initialized() or (address or os.environ.get("RAY_ADDRESS") or "local") != "local" \
            or not lean_enabled():
        return None
    return HeadThread(num_cpus or os.cpu_count() or 1)


def _prepare(jobs: Sequence[VideoJob], cfg: RunConfig, done: dict[int, tuple[str | None, str | None]],
             outcomes: dict[int, VideoOutcome], shards: Path, keep_shards: bool) -> list[tuple[int, VideoJob, str]]:
    """The driver's checks: videos done (skipped), unreadable (failed), the rest to index."""
    from videonav.tools.video.probe import probe

    todo: list[tuple[int, VideoJob, str]] = []
    for i, job in enumerate(jobs):
        dk, tk = done[i]
        if tk is not None:
            outcomes[i] = VideoOutcome(job, "skipped", tk)
            if not keep_shards:  # a driver killed after the done record, before removing the shard
                remove_shard(shard_path(shards, job))
            continue
        try:
            probe(job.path)
            todo.append((i, job, dk or done_key(job, cfg)))
        except Exception as e:  # noqa: BLE001 - reported with the others at the end
            if fatal(e):
                raise
            outcomes[i] = VideoOutcome(job, "failed", error=error_line(e))
    return todo


def _actors(ray: Any, cfg: RunConfig, actors: int | None, gpus: float, factory: CaptionerFactory | None,
            max_retries: int) -> list[tuple[Any, dict[str, Any]]]:
    cluster_gpus = float(ray.cluster_resources().get("GPU", 0))
    if actors is None:
        if cfg.captioner.backend not in GPU_BACKENDS:
            return []
        if cluster_gpus == 0:  # no GPU: one copy of the model on a CPU beats one per task
            actors, gpus = 1, 0.0
        else:
            actors = max(1, int(cluster_gpus / max(gpus, 1e-9)))
    if actors <= 0:
        return []
    if actors * gpus > cluster_gpus:
        raise LibraryError(f"--actors {actors} x --gpus-per-actor {gpus:g} needs {actors * gpus:g} GPUs but the Ray "
                           f"cluster has {cluster_gpus:g}; lower them (--gpus-per-actor 0 runs the model on CPUs)")
    cls = ray.remote(CaptionerActor).options(num_gpus=gpus, num_cpus=0 if gpus else 1, max_restarts=max_retries,
                                             max_task_retries=max_retries)
    handles = [cls.remote(cfg.captioner, factory) for _ in range(actors)]
    return [(h, ray.get(h.info.remote())) for h in handles]


def _run_tasks(ray: Any, store: Store, cfg: RunConfig, todo: list[tuple[int, VideoJob, str]],
               outcomes: dict[int, VideoOutcome], total: int, shards: Path, on_video: OnVideo | None,
               workers: int | None, max_retries: int, actors: int | None, actor_gpus: float,
               factory: CaptionerFactory | None, keep_shards: bool, cpus: int, pin: bool,
               maker: ShardMaker | None = None) -> None:
    pool = _actors(ray, cfg, actors, actor_gpus, factory, max_retries)
    task = ray.remote(index_into_shard).options(num_cpus=cpus, max_retries=max_retries, retry_exceptions=False)
    window = max(1, workers or len(todo))
    queue = list(todo)
    pending: dict[Any, tuple[int, VideoJob, str, float]] = {}

    def submit() -> None:
        while queue and len(pending) < window:
            i, job, dk = queue.pop(0)
            remote = RemoteCaptioner(*pool[i % len(pool)]) if pool else None
            ref = task.remote(job, cfg, shard_path(shards, job), remote, None if pool else factory, cpus,
                              pin and not pool)
            pending[ref] = (i, job, dk, time.perf_counter())
        if maker is not None:  # the shard of the video that comes next, while this one runs
            maker.ahead([job for _, job, _ in queue[:1]])

    submit()
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1)
        i, job, dk, t1 = pending.pop(ready[0])
        submit()  # the freed worker starts its next video while this one is merged
        try:
            payload = ray.get(ready[0])
        except ray.exceptions.RayError as e:  # the video failed on its worker (or the worker died past retries)
            cause = getattr(e, "cause", None)  # a RayTaskError carries the worker's own exception
            outcomes[i] = VideoOutcome(job, "failed", error=error_line(cause if cause is not None else e),
                                       wall_seconds=time.perf_counter() - t1)
        else:
            for w in payload["warnings"]:
                warnings.warn(f"{job.path}: {w}", stacklevel=2)
            try:
                merge_payload(store, payload)
                summary = record_run(store, cfg, job, payload["tree_key"], payload["tree"].video_id,
                                     payload["stats"], dk)
                summary["cores"] = payload.get("cores")  # where it ran (None: not pinned)
                summary.update(payload.get("took", {}))  # the indexer's wall and CPU seconds on its worker
            except Exception as e:  # noqa: BLE001 - a broken target store stops the run, anything else is this video's
                if fatal(e):
                    raise
                outcomes[i] = VideoOutcome(job, "failed", error=error_line(e), wall_seconds=time.perf_counter() - t1)
            else:
                if not keep_shards:
                    remove_shard(Path(payload["shard"]))
                outcomes[i] = VideoOutcome(job, "indexed", payload["tree_key"], payload["stats"]["video_seconds"],
                                           time.perf_counter() - t1, summary=summary)
        if on_video:
            on_video(outcomes[i], len(outcomes), total)

