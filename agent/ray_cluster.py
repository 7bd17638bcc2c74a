"""Start (or join) the Ray cluster of one library run, and stop what was started.

Why not plain ``ray.init()``: a cluster that ``ray.init`` starts on this machine also starts the
autoscaler monitor, a log monitor and the dashboard's API server (even with
``include_dashboard=False`` it runs, for usage stats, and ``ray.init`` waits for it). A one-machine
batch run uses none of them -- no autoscaling on a fixed local node, worker logs are not sent to
the driver (``log_to_driver=False``), no dashboard -- but each is a Python process that imports
Ray, ~0.5-0.8 CPU-s apiece, paid from the same cores as the videos; the monitor also takes a
second to stop. Measured here (Ray 2.60, one core, start to the first task's result, then the
stop; 3 runs each): ``ray.init`` 4.3 s and 3.5 CPU-s (driver included), stop 1.4-1.6 s; the lean
head below without its agent changes 2.3-3.3 s and 2.1 CPU-s, stop 0.3 s.

The raylet's two agents (the dashboard agent: metrics export, which a minimal Ray install does not
have anyway, and logs for the dashboard; the runtime-env agent: ``runtime_env`` set-ups) are
Python processes importing Ray, ~0.6 CPU-s each, and the raylet registers only once both have
written their port files: ~2 s on one core. A library run uses neither, so the lean head gives the
raylet :data:`STUB_AGENT`, an idle stand-in, as both agents' command and writes the port files
the agents would have written (metrics: -1, "not in use", as a minimal Ray's agent writes; the
other two: free ports nothing listens on), so the raylet finds them at once
(``VIDEONAV_RAY_AGENTS=1`` keeps the real ones, e.g. for a ``runtime_env``).
Measured here (one core, other sessions' jobs running, the driver busy 0.8 CPU-s meanwhile, to
the first task's result, which imports the indexer; 2 runs each): 3.6 s and 3.3 CPU-s with the
agents, 2.3-2.4 s and 2.2 CPU-s without. A library run of the 4 short clips (start to stop; 3-6
runs each): one core 7.2 s with the agents, 4.9-5.1 s without; two cores, two workers 4.4 s and
4.0 s. Tried, not kept: the raylet starting its workers at once (``enable_worker_prestart``) rather
than when the driver registers: 0.4 s slower on one core and on two (5.3 vs 4.9 s, 4.5 vs 4.0 s).

The lean head uses the same machinery ``ray start --head --no-monitor --include-log-monitor=false``
does (``ray._private.node.Node``, with the raylet's command line edited as above; the processes
share the driver's fate as with ``ray.init``: a SIGKILLed driver takes them with it, the agent
stand-ins follow their raylet) and then connects with ``ray.init(address=...)``. Those are
Ray internals, so any failure there falls back to plain ``ray.init`` (``VIDEONAV_RAY_LEAN=0``
forces the fallback). Clusters named by address (``auto``, ``host:port``, ``RAY_ADDRESS``) are
joined as they are.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

LEAN_ENV = "VIDEONAV_RAY_LEAN"
AGENTS_ENV = "VIDEONAV_RAY_AGENTS"
QUIET: dict[str, Any] = {"logging_level": logging.ERROR, "log_to_driver": False}
AGENT_FLAGS = ("--dashboard_agent_command", "--runtime_env_agent_command")
STUB_AGENT = ("import os,sys,time;p=int(os.environ.get(sys.argv[1],os.getppid()));"
              "any(iter(lambda:time.sleep(1)or(os.getppid()!=p)or(p<=1),True))")
"""An idle stand-in for one of the raylet's agents: ~20 ms of CPU to start (no Ray import), wakes
once a second and exits within a second of its raylet (the raylet stops a lean head's whole run if
an agent exits, so it stays until then), or at once if it was orphaned before it looked (its
parent already pid 1)."""
_PATCH = threading.Lock()


@dataclass
class Cluster:
    """What :func:`connect` did, for :func:`stop`: ``started`` (we called ``ray.init``), ``local`` (a
    cluster of this run, on this machine), ``head`` (the lean head we run; None: ``ray.init``'s own
    or not ours), ``seconds`` (start-up wall time, reported by the library run)."""

    started: bool = False
    local: bool = False
    head: HeadThread | None = None
    seconds: float = 0.0


def lean_enabled() -> bool:
    return os.environ.get(LEAN_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def agents_skipped() -> bool:
    """Whether the lean head runs idle stand-ins for Ray's two agents (default; ``VIDEONAV_RAY_AGENTS=1``
    keeps the real ones, e.g. for a ``runtime_env``)."""
    return os.environ.get(AGENTS_ENV, "0").strip().lower() in ("0", "false", "no", "off", "")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _raylet_command(command: list[str]) -> list[str]:
    """The raylet's command line with :data:`STUB_AGENT` in place of each of its two agents."""
    line = subprocess.list2cmdline([sys.executable, "-S", "-c", STUB_AGENT, "RAY_RAYLET_PID"])
    return [f"{arg.split('=', 1)[0]}={line}" if arg.split("=", 1)[0] in AGENT_FLAGS else arg for arg in command]


def start_head(num_cpus: int) -> Any:
    """Start a head node of ``num_cpus`` CPUs without the monitor, log monitor and API server, and
    (unless :func:`agents_skipped` says no) with idle stand-ins for the raylet's agents.

    Returns the node (``node.address`` is its GCS), or None where this Ray's internals differ (the
    caller then starts a plain ``ray.init`` cluster)."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # offline-first: never report usage
    try:
        from ray._private import services
        from ray._private.node import Node
        from ray._private.parameter import RayParams
    except ImportError:
        return None
    ports: dict[str, int] = {}
    if agents_skipped():
        try:  # the port files the agents would write: metrics not in use (-1), as a minimal agent says
            from ray._raylet import (
                DASHBOARD_AGENT_LISTEN_PORT_NAME,
                METRICS_AGENT_PORT_NAME,
                METRICS_EXPORT_PORT_NAME,
                RUNTIME_ENV_AGENT_PORT_NAME,
                persist_port,
            )

            ports = {METRICS_AGENT_PORT_NAME: -1, METRICS_EXPORT_PORT_NAME: -1,
                     DASHBOARD_AGENT_LISTEN_PORT_NAME: _free_port(), RUNTIME_ENV_AGENT_PORT_NAME: _free_port()}
        except ImportError:  # another Ray: its own agents, as they are
            ports = {}

    class _Head(Node):  # type: ignore[misc, valid-type]
        def start_api_server(self, *args: Any, **kwargs: Any) -> None:
            """No API server: nothing of a batch run asks it anything (dashboard, jobs, usage stats)."""

        def start_raylet(self, *args: Any, **kwargs: Any) -> None:
            if not ports:
                return super().start_raylet(*args, **kwargs)
            for name, port in ports.items():  # written before the raylet looks for them
                persist_port(self._session_dir, self._node_id, name, port)
            start = services.start_ray_process

            def raylet_process(command: list[str], process_type: str, *a: Any, **k: Any) -> Any:
                return start(_raylet_command(command) if process_type == "raylet" else command, process_type, *a, **k)

            with _PATCH:  # services' own name, for this one call (the head thread's, before any driver)
                services.start_ray_process = raylet_process
                try:
                    return super().start_raylet(*args, **kwargs)
                finally:
                    services.start_ray_process = start

    try:
        params = RayParams(num_cpus=num_cpus, include_dashboard=False, include_log_monitor=False,
                           no_monitor=True)
        return _Head(params, head=True, shutdown_at_exit=False, spawn_reaper=True)
    except (TypeError, AttributeError, ValueError):  # another Ray's internals: start it the public way
        return None


def stop_head(node: Any) -> None:
    if node is None:
        return
    with contextlib.suppress(Exception):
        node.destroy_external_storage()  # spilled objects, as ray.shutdown does for its own head
    node.kill_all_processes(check_alive=False, allow_graceful=True)


class HeadThread:
    """A lean head (:func:`start_head`) started by a thread of its own, which lives until :meth:`stop`.

    Why a thread: the driver probes its videos while the cluster comes up. Why it must live: Ray
    ties each daemon to its starter with Linux's parent-death signal, and that signal follows the
    *thread* that started the child -- a pool thread that finished would take the cluster with it
    (seen: raylet and GCS gone a second after start, the driver waiting forever). A SIGKILLed
    driver still takes every daemon with it."""

    def __init__(self, num_cpus: int) -> None:
        self._ready, self._done = threading.Event(), threading.Event()
        self._node: Any = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(num_cpus,), name="videonav-ray-head", daemon=True)
        self._thread.start()

    def _run(self, num_cpus: int) -> None:
        try:
            self._node = start_head(num_cpus)
        except BaseException as e:  # noqa: BLE001 - raised in the driver's thread by node()
            self._error = e
        finally:
            self._ready.set()
        self._done.wait()
        stop_head(self._node)

    def node(self) -> Any:
        """The started node (None: this Ray cannot start a lean head); waits until it is up."""
        self._ready.wait()
        if self._error is not None:
            raise self._error
        return self._node

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


def connect(ray: Any, address: str | None, num_cpus: int | None, head: HeadThread | None = None,
            lean: bool | None = None) -> Cluster:
    """Join ``address`` (``RAY_ADDRESS`` when None) or start a local cluster of ``num_cpus`` CPUs
    (``head``: a lean head already starting, e.g. while the driver checked its videos; ``lean``:
    start one when none is given, default :func:`lean_enabled`). ``connect`` owns ``head`` from
    here on: it is stopped if unused or if joining it fails."""
    t0 = time.perf_counter()
    addr = address or os.environ.get("RAY_ADDRESS") or None
    if ray.is_initialized() or (addr and addr != "local"):
        if head is not None:
            head.stop()
        if ray.is_initialized():
            return Cluster()
        ray.init(address=addr, **QUIET)
        return Cluster(True, False, None, time.perf_counter() - t0)
    n = num_cpus or os.cpu_count() or 1
    if head is None and (lean_enabled() if lean is None else lean):
        head = HeadThread(n)
    node = None
    if head is not None:
        try:
            node = head.node()
            if node is not None:
                ray.init(address=node.address, **QUIET)
        except BaseException:
            head.stop()
            raise
        if node is None:
            head.stop()
        else:
            return Cluster(True, True, head, time.perf_counter() - t0)
    ray.init(address="local", num_cpus=n, include_dashboard=False, **QUIET)
    return Cluster(True, True, None, time.perf_counter() - t0)


def stop(ray: Any, cluster: Cluster) -> None:
    """Disconnect if we connected; stop the processes of a lean head we started."""
    try:
        if cluster.started:
            ray.shutdown()
    finally:
        if cluster.head is not None:
            cluster.head.stop()
