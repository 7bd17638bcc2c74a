"""How a Ray library run starts and stops its local cluster (agent/ray_cluster.py) and makes shard
stores ahead of their tasks (agent/ray_shards.py).

The lean head runs no autoscaler monitor, log monitor or API server (each a Python process that
costs CPU on the cores the videos need), idle stand-ins instead of the raylet's two agents (whose
port files the raylet would wait for), outlives the thread that started it (Linux ties Ray's
parent-death signal to that thread) and is gone after the run; without its internals Ray's own
``ray.init`` cluster is used. A rerun with nothing left to do starts no cluster at all. A shard
made ahead is an empty store and never replaces a shard a task already wrote into.

The Ray tests start a 1-CPU local cluster (``slow``: a few seconds each).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from conftest import CARDS, render_cards
from videonav.agent.config import load_config
from videonav.agent.library import VideoJob, resolve_jobs
from videonav.memory.store import Store

SKIPPED_DAEMONS = ("monitor.py", "log_monitor.py", "dashboard.py")  # autoscaler monitor, log monitor, API server
RAY_AGENTS = ("dashboard/agent.py", "runtime_env/agent/main.py")  # the raylet's dashboard and runtime-env agents


def _children() -> list[str]:
    """Command lines of this process's live descendants (the local cluster's daemons)."""
    psutil = pytest.importorskip("psutil")
    out = []
    for q in psutil.Process().children(recursive=True):
        try:
            if q.status() != psutil.STATUS_ZOMBIE:
                out.append(" ".join(q.cmdline()) or q.name())
        except psutil.Error:
            pass
    return out


def _stand_ins() -> list[str]:
    """The live agent stand-ins (the raylet's own command line names them too)."""
    from videonav.agent.ray_cluster import STUB_AGENT

    return [c for c in _children() if STUB_AGENT in c and "raylet" not in c]


def _remote_answer(ray: object) -> int:
    """A task's answer (a local function: shipped by value, workers cannot import test modules)."""
    def answer() -> int:
        return 42

    return ray.get(ray.remote(num_cpus=1)(answer).remote())  # type: ignore[attr-defined]


@pytest.mark.slow
def test_lean_head_runs_without_monitor_log_monitor_api_server_and_outlives_its_thread() -> None:
    ray = pytest.importorskip("ray")
    from videonav.agent.ray_cluster import HeadThread, connect, stop

    head = HeadThread(1)
    assert head.node() is not None
    time.sleep(1.5)  # started from a thread that had ended, the raylet would be gone by now
    cluster = connect(ray, "local", 1, head)
    try:
        assert cluster.local and cluster.head is head
        assert _remote_answer(ray) == 42
        procs = " ".join(_children())
        assert "raylet" in procs and "gcs_server" in procs, procs
        assert not [d for d in SKIPPED_DAEMONS + RAY_AGENTS if d in procs], procs
        assert len(_stand_ins()) == 2, procs
        session = Path(ray._private.worker.global_worker.node.get_session_dir_path())  # type: ignore[attr-defined]
        metrics = [f.read_text().strip() for f in session.glob("metrics_agent_port_*")]
        assert metrics == ["-1"], metrics  # the stand-ins' port files: metrics not in use
    finally:
        stop(ray, cluster)
    assert not ray.is_initialized()
    assert not [c for c in _children() if "raylet" in c or "gcs_server" in c]
    deadline = time.monotonic() + 5  # the stand-ins follow their raylet within a second
    while _stand_ins() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _stand_ins()


@pytest.mark.slow
def test_ray_agents_kept_on_request(monkeypatch: pytest.MonkeyPatch) -> None:
    ray = pytest.importorskip("ray")
    from videonav.agent.ray_cluster import AGENTS_ENV, STUB_AGENT, connect, stop

    monkeypatch.setenv(AGENTS_ENV, "1")  # e.g. for a runtime_env, which only the runtime-env agent serves
    cluster = connect(ray, "local", 1)
    try:
        assert cluster.head is not None and _remote_answer(ray) == 42
        procs = " ".join(_children())
        assert all(a in procs for a in RAY_AGENTS) and STUB_AGENT not in procs, procs
        assert not [d for d in SKIPPED_DAEMONS if d in procs], procs
    finally:
        stop(ray, cluster)


def test_the_raylet_gets_agent_stand_ins() -> None:
    from videonav.agent.ray_cluster import STUB_AGENT, _raylet_command

    cmd = ["raylet", "--dashboard_agent_command=python agent.py --x=1", "--runtime_env_agent_command=python main.py",
           "--node_id=abc"]
    out = _raylet_command(cmd)
    assert len(out) == 4 and out[0] == "raylet" and out[3] == "--node_id=abc"
    assert out[1].startswith("--dashboard_agent_command=") and out[2].startswith("--runtime_env_agent_command=")
    assert all(STUB_AGENT in a for a in out[1:3]) and "agent.py" not in " ".join(out)


@pytest.mark.parametrize("raylet", ["parent", "gone", "orphaned"])
def test_an_agent_stand_in_exits_soon_after_its_raylet(raylet: str) -> None:
    """Its parent exits at once (``parent``), the raylet it was started for is already gone
    (``gone``: the pid in RAY_RAYLET_PID is not its parent), or it was orphaned before it looked
    (``orphaned``: no RAY_RAYLET_PID and its parent is pid 1): it exits within seconds."""
    import os
    import subprocess
    import sys

    from videonav.agent.ray_cluster import STUB_AGENT

    if raylet == "orphaned":
        env = {k: v for k, v in os.environ.items() if k != "RAY_RAYLET_PID"}
        code = f"import os\nos.getppid = lambda: 1\nexec({STUB_AGENT!r})"
        stub = subprocess.Popen([sys.executable, "-S", "-c", code, "RAY_RAYLET_PID"], env=env)
        try:
            assert stub.wait(timeout=10) == 0
        finally:
            stub.kill()  # one that never exits must not outlive the test
        return
    if raylet == "gone":
        stub = subprocess.Popen([sys.executable, "-S", "-c", STUB_AGENT, "RAY_RAYLET_PID"],
                                env={**os.environ, "RAY_RAYLET_PID": "1"})
        assert stub.wait(timeout=10) == 0
        return
    env = {k: v for k, v in os.environ.items() if k != "RAY_RAYLET_PID"}
    start = 'RAY_RAYLET_PID=$$ "$0" -S -c "$1" RAY_RAYLET_PID >/dev/null 2>&1 & echo $!'  # the shell exits at once
    shell = subprocess.run(["sh", "-c", start, sys.executable, STUB_AGENT], capture_output=True,
                           text=True, env=env, timeout=10)
    pid = int(shell.stdout.strip())
    deadline = time.monotonic() + 10
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not Path(f"/proc/{pid}").exists() or "any(iter" not in Path(f"/proc/{pid}/cmdline").read_text()


@pytest.mark.slow
def test_without_the_lean_head_ray_init_starts_its_own_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    ray = pytest.importorskip("ray")
    from videonav.agent import ray_cluster

    monkeypatch.setattr(ray_cluster, "start_head", lambda num_cpus: None)  # a Ray whose internals differ
    cluster = ray_cluster.connect(ray, "local", 1)
    try:
        assert cluster.started and cluster.local and cluster.head is None
        assert _remote_answer(ray) == 42
        procs = " ".join(_children())
        assert "monitor.py" in procs, procs  # what the lean head leaves out
    finally:
        ray_cluster.stop(ray, cluster)
    assert not ray.is_initialized()


@pytest.mark.slow
def test_a_rerun_with_nothing_left_to_do_starts_no_cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ray = pytest.importorskip("ray")
    from videonav.agent import library_ray

    video = tmp_path / "v.mp4"
    render_cards(video, CARDS, 2.5, 4, size=(320, 180))
    cfg = load_config(None, ["embedder.model=hashing", f"store.path={json.dumps(str(tmp_path / 's.sqlite'))}"])
    jobs = resolve_jobs([video, tmp_path / "missing.mp4"])
    first = library_ray.ray_index(jobs, cfg, address="local", workers=1)
    assert [o.status for o in first.outcomes] == ["indexed", "failed"] and first.startup_seconds > 0

    def no_cluster(*args: object, **kwargs: object) -> None:
        raise AssertionError("a cluster was started for a library with nothing left to index")

    monkeypatch.setattr(library_ray, "HeadThread", no_cluster)
    monkeypatch.setattr(library_ray, "connect", no_cluster)
    monkeypatch.setattr(ray, "init", no_cluster)
    again = library_ray.ray_index(jobs, cfg, address="local", workers=1)
    assert [o.status for o in again.outcomes] == ["skipped", "failed"]
    assert "no such file" in (again.outcomes[1].error or "")
    assert not ray.is_initialized() and again.startup_seconds == 0


def test_a_shard_made_ahead_is_an_empty_store_and_never_replaces_one_a_task_wrote(tmp_path: Path) -> None:
    from videonav.agent.ray_shards import ShardMaker, shard_path

    shards = tmp_path / "shards"
    jobs = [VideoJob(tmp_path / "a.mp4"), VideoJob(tmp_path / "b.mp4")]
    with Store(shard_path(shards, jobs[1])) as st:  # b's task got there first and wrote
        st.cache_put("written-by-the-task", {"n": 1})
    maker = ShardMaker(shards)
    maker.ahead(jobs)
    maker.ahead(jobs[:1])  # asked again: made once
    maker.close(cancel=False)
    with Store(shard_path(shards, jobs[0]), create=False) as st:
        assert st.tree_keys() == [] and st.cache_get("written-by-the-task") is None
    with Store(shard_path(shards, jobs[1]), create=False) as st:
        assert st.cache_get("written-by-the-task") == {"n": 1}
    assert sorted(p.name for p in shards.iterdir()) == sorted(shard_path(shards, j).name for j in jobs)
