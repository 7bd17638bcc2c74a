"""Indexing a library (issue 17): many paths / folders / manifests, a plain loop that carries on past a
bad file, the same work on a local Ray cluster (tasks, captioner actors, a worker that dies), and
SIGKILLs of the driver at three moments followed by a rerun that ends with the uninterrupted trees.

The Ray tests start a 2-CPU local cluster (``slow``: cluster start-up alone takes 5-15 s here).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import CARDS, render_cards
from videonav.agent.cli.dispatch import main as cli
from videonav.agent.config import load_config
from videonav.agent.library import LibraryError, index_library, resolve_jobs
from videonav.memory.store import Store

FAST = ["--set", "embedder.model=hashing", "--no-progress"]


def _videos(d: Path, n: int, seconds: float = 2.5) -> list[Path]:
    """``n`` distinct small card videos (the cards rotate, so every file has its own content hash)."""
    d.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        p = d / f"v{i}.mp4"
        if not p.exists():
            render_cards(p, CARDS[i % 4:] + CARDS[: i % 4], seconds, 4, size=(320, 180))
        out.append(p)
    return out


@pytest.fixture(scope="module")
def lib(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("lib")
    _videos(d / "good", 3)
    (d / "good" / "notes.txt").write_text("not a video")
    (d / "bad").mkdir()
    (d / "bad" / "broken.mp4").write_bytes(b"\x00\x01 this is not a video" * 100)
    return d


def trees(store: Path) -> dict[str, list[tuple]]:
    """Every tree of the store, node by node (id, level, span, caption), with the node count checked
    against the rows: a duplicated or missing row would show."""
    with Store(store, create=False) as st:
        out = {}
        for key in st.tree_keys():
            t = st.load_tree(key)
            assert st.count_nodes(key) == len(t)
            out[key] = [(n.id, n.level, n.start, n.end, n.caption) for n in t.nodes()]
    return out


# -- which videos ---------------------------------------------------------------------------------
def test_paths_folders_and_manifests_resolve_in_order_once(lib: Path, tmp_path: Path) -> None:
    good = sorted((lib / "good").glob("*.mp4"))
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    (nested / "deep.MKV").write_bytes(b"x")
    (nested / "skip.srt").write_text("1")
    jobs = resolve_jobs([good[1], lib / "good", tmp_path / "a"])
    assert [j.path for j in jobs] == [good[1], good[0], good[2], nested / "deep.MKV"]  # mentioned once, in order
    assert [j.path.name for j in resolve_jobs([tmp_path / "a"], exts=["srt"])] == ["skip.srt"]

    man = tmp_path / "list.txt"
    man.write_text(f"# my videos\n\n{good[0]}\nb/../a/b/deep.MKV\n")
    got = resolve_jobs(manifest=man)
    assert [j.path.resolve() for j in got] == [good[0], (nested / "deep.MKV").resolve()]
    jl = tmp_path / "list.jsonl"
    jl.write_text(json.dumps({"path": str(good[2]), "lazy": True, "entities": ["Ann", "Bo"],
                              "subtitles": "s.srt"}) + "\n" + json.dumps({"path": str(good[0])}) + "\n")
    a, b = resolve_jobs([good[0]], manifest=jl, entities=["Zed"])
    assert (a.path, a.entities, a.lazy) == (good[0], ("Zed",), None)
    assert (b.path, b.entities, b.lazy, b.subtitles) == (good[2], ("Ann", "Bo"), True, tmp_path / "s.srt")


@pytest.mark.parametrize("text, needle", [
    ('{"path": "a.mp4", "speed": 2}', "unknown keys ['speed']"),
    ('{"path": "a.mp4",', "not valid JSON"),
    ('{"lazy": true}', 'needs a "path"'),
    ('{"path": "a.mp4", "lazy": "yes"}', '"lazy" true or false'),
    ("# nothing\n\n", "no video listed"),
])
def test_bad_manifests_name_the_line_and_the_fix(tmp_path: Path, text: str, needle: str) -> None:
    man = tmp_path / "m.jsonl"
    man.write_text(text)
    with pytest.raises(LibraryError, match="--manifest") as e:
        resolve_jobs(manifest=man)
    assert needle in str(e.value)


def test_empty_folder_and_one_subtitle_file_for_many(lib: Path, tmp_path: Path) -> None:
    with pytest.raises(LibraryError, match="no video files"):
        resolve_jobs([tmp_path])
    with pytest.raises(LibraryError, match="--subtitles names one file"):
        resolve_jobs([lib / "good"], subtitles=tmp_path / "x.srt")
    with pytest.raises(LibraryError, match="no video given"):
        resolve_jobs([])


def test_cli_one_line_errors_for_library_flags(lib: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "s.sqlite"
    assert cli(["index", str(lib / "good"), "--workers", "2", "--store", str(store), *FAST]) == 1
    assert "--workers only apply to a Ray run; add --ray" in capsys.readouterr().err
    assert cli(["index", "--store", str(store), *FAST]) == 1
    assert "no video given" in capsys.readouterr().err
    assert cli(["index", str(lib / "good"), "--subtitles", str(tmp_path / "a.srt"), "--store", str(store), *FAST]) == 1
    err = capsys.readouterr().err
    assert "--subtitles names one file" in err and "Traceback" not in err and not store.exists()


# -- the plain loop ---------------------------------------------------------------------------------
def test_loop_reports_a_bad_file_at_the_end_and_indexes_the_others(lib: Path, tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "s.sqlite"
    rc = cli(["index", str(lib / "bad" / "broken.mp4"), str(lib / "good"), str(tmp_path / "typo.mp4"),
              "--store", str(store), "--json", *FAST])
    out, err = capsys.readouterr()
    assert rc == 1
    d = json.loads(out)
    assert (d["indexed"], d["failed"], d["mode"]) == (3, 2, "loop")
    failed = [r for r in d["results"] if r["status"] == "failed"]
    assert [Path(r["video"]).name for r in failed] == ["broken.mp4", "typo.mp4"]
    assert all("\n" not in r["error"] and "Traceback" not in r["error"] for r in failed)
    assert "broken.mp4" in err and "typo.mp4" in err and "Traceback" not in err
    indexed = [r for r in d["results"] if r["status"] == "indexed"]
    assert all(r["index_seconds"] > 0 and r["index_cpu_seconds"] > 0 for r in indexed), indexed
    assert all(r["index_seconds"] is None for r in failed)
    first = trees(store)
    assert len(first) == 3 and all(c for t in first.values() for *_, c in t)  # every node captioned
    with Store(store) as st:  # one run record per indexed video
        assert {st.get_run(r["run_id"])["tree_key"] for r in d["results"] if r["run_id"]} == set(first)

    rc = cli(["index", str(lib / "good"), "--store", str(store), *FAST])  # rerun: nothing left to do
    out, _ = capsys.readouterr()
    assert rc == 0 and out.count("already indexed") == 3 and "0 indexed, 3 already done" in out
    assert trees(store) == first


def test_timed_counts_the_processes_the_block_waited_for() -> None:
    """A video's CPU seconds include tesseract's: a child that burns 0.3 CPU-s counts."""
    from videonav.agent.library import timed

    took: dict[str, float] = {}
    burn = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.3: pass"
    with timed(took):
        subprocess.run([sys.executable, "-c", burn], check=True)
    assert took["index_cpu_seconds"] >= 0.3 and took["index_seconds"] >= 0.3


def test_library_api_matches_single_video_index(lib: Path, tmp_path: Path) -> None:
    """The loop builds the same tree as ``videonav index VIDEO`` (one captioner lent to every video)."""
    v = sorted((lib / "good").glob("*.mp4"))
    assert cli(["index", str(v[0]), "--store", str(tmp_path / "one.sqlite"), *FAST]) == 0
    cfg = load_config(None, ["embedder.model=hashing", f"store.path={json.dumps(str(tmp_path / 'many.sqlite'))}"])
    seen: list[tuple[int, int]] = []
    res = index_library(resolve_jobs(v), cfg, on_video=lambda o, done, total: seen.append((done, total)))
    assert seen == [(1, 3), (2, 3), (3, 3)] and not res.failed
    one, many = trees(tmp_path / "one.sqlite"), trees(tmp_path / "many.sqlite")
    assert one.items() <= many.items() and len(many) == 3


# -- SIGKILL of the driver ---------------------------------------------------------------------------
def _count(store: Path, sql: str) -> int:
    try:
        with sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=1) as db:
            return int(db.execute(sql).fetchone()[0])
    except sqlite3.Error:
        return 0


def _captioned_anywhere(store: Path) -> int:
    """Captions written so far: into the store (loop) or into any worker shard (Ray)."""
    shards = list((store.parent / ".videonav-shards").glob("*.sqlite"))
    return sum(_count(p, "SELECT count(*) FROM nodes WHERE caption IS NOT NULL") for p in [store, *shards])


MOMENTS = {  # when to kill the driver: after the first caption, the first finished video, all but one
    "first-caption": lambda s, n: _captioned_anywhere(s) >= 1,
    "first-video": lambda s, n: _count(s, "SELECT count(*) FROM kv WHERE key LIKE 'library:done:%'") >= 1,
    "last-video": lambda s, n: _count(s, "SELECT count(*) FROM kv WHERE key LIKE 'library:done:%'") >= n - 1,
}


def _index_cmd(videos: Path, store: Path, ray: bool) -> list[str]:
    cmd = [sys.executable, "-m", "videonav.agent.cli", "index", str(videos), "--store", str(store), *FAST]
    return cmd + (["--ray", "--workers", "2", "--address", "local"] if ray else [])


def _kill_and_rerun(videos: Path, store: Path, ray: bool, moment: str, n: int) -> bool:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(_index_cmd(videos, store, ray), env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=False)
    killed = False
    deadline = time.monotonic() + 240
    while proc.poll() is None and time.monotonic() < deadline:
        if MOMENTS[moment](store, n):
            os.kill(proc.pid, signal.SIGKILL)
            killed = True
            break
        time.sleep(0.05)
    proc.wait(30)
    rerun = subprocess.run(_index_cmd(videos, store, ray), env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    return killed


@pytest.mark.slow
@pytest.mark.parametrize("ray", [False, pytest.param(True, id="ray")], ids=["loop", "ray"])
def test_sigkill_the_driver_at_three_moments_then_rerun(tmp_path: Path, ray: bool) -> None:
    if ray:
        pytest.importorskip("ray")
    videos = tmp_path / "videos"
    n = len(_videos(videos, 4, seconds=5.0))
    ref = tmp_path / "ref" / "s.sqlite"
    ref.parent.mkdir()
    assert subprocess.run(_index_cmd(videos, ref, ray), capture_output=True, timeout=300).returncode == 0
    want = trees(ref)
    assert len(want) == n
    kills = 0
    for moment in MOMENTS:
        store = tmp_path / moment / "s.sqlite"
        store.parent.mkdir()
        kills += _kill_and_rerun(videos, store, ray, moment, n)
        assert trees(store) == want, moment
        done = _count(store, "SELECT count(*) FROM kv WHERE key LIKE 'library:done:%'")
        assert done == n, moment  # every video recorded as done exactly once
        assert not list((store.parent / ".videonav-shards").glob("*.sqlite")), "merged shards are removed"
    assert kills >= 2  # the kills landed mid-run (a machine too fast to kill in time still checks the rerun)


# -- Ray ---------------------------------------------------------------------------------------------
class DiesOnce:
    """A classic captioner whose worker process dies (``os._exit``) on its first caption, once per
    marker file: what a crashed or OOM-killed Ray worker looks like."""

    def __init__(self, cfg: object, marker: str) -> None:
        from videonav.tools.captioners.base import make_captioner

        self.inner, self.marker = make_captioner(cfg), marker  # type: ignore[arg-type]

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def describe_batch(self, requests: list) -> list:
        if not os.path.exists(self.marker):
            Path(self.marker).write_text(str(os.getpid()))
            os._exit(1)
        return self.inner.describe_batch(requests)


@pytest.fixture(scope="module")
def loop_reference(lib: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[tuple]]:
    store = tmp_path_factory.mktemp("loopref") / "s.sqlite"
    assert cli(["index", str(lib / "good"), "--store", str(store), *FAST]) == 0
    return trees(store)


@pytest.mark.slow
def test_ray_local_two_cpus_same_trees_as_the_loop_and_a_bad_file_reported(
        lib: Path, tmp_path: Path, loop_reference: dict, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("ray")
    store = tmp_path / "s.sqlite"
    rc = cli(["index", str(lib / "good"), str(lib / "bad"), "--store", str(store), "--json", "--ray",
              "--workers", "2", "--address", "local", *FAST])
    out, err = capsys.readouterr()
    d = json.loads(out)
    assert rc == 1 and (d["mode"], d["indexed"], d["failed"]) == ("ray", 3, 1)
    if len(os.sched_getaffinity(0)) >= 2:  # a local cluster pins each task to one core of its own
        assert all(len(r["cores"]) == 1 for r in d["results"] if r["status"] == "indexed"), d["results"]
    assert "broken.mp4" in err and "Traceback" not in err and "RayTaskError" not in err
    indexed = [r for r in d["results"] if r["status"] == "indexed"]  # timed on the worker, as the loop times it
    assert all(r["index_seconds"] > 0 and r["index_cpu_seconds"] > 0 for r in indexed), indexed
    assert trees(store) == loop_reference
    assert not list((tmp_path / ".videonav-shards").glob("*.sqlite"))  # merged, then removed
    rc = cli(["index", str(lib / "good"), "--store", str(store), "--ray", "--workers", "2", *FAST])
    assert rc == 0 and capsys.readouterr().out.count("already indexed") == 3


@pytest.mark.slow
def test_ray_captioner_actors_and_a_dying_worker_is_retried(lib: Path, tmp_path: Path,
                                                            loop_reference: dict) -> None:
    """The actor path (the model held by actors, clips fed in batches) exercised with the classic
    captioner on CPU; then the task path with a captioner that kills its worker once."""
    pytest.importorskip("ray")
    from ray import cloudpickle

    from videonav.agent.library_ray import ray_index

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import the test module
    jobs = resolve_jobs([lib / "good"])
    cfg = load_config(None, ["embedder.model=hashing", f"store.path={json.dumps(str(tmp_path / 'a.sqlite'))}"])
    res = ray_index(jobs, cfg, address="local", workers=2, actors=1, actor_gpus=0)
    assert not res.failed and trees(tmp_path / "a.sqlite") == loop_reference

    marker = tmp_path / "died"
    cfg = cfg.model_copy(update={"store": cfg.store.model_copy(update={"path": tmp_path / "b.sqlite"})})
    res = ray_index(jobs[:1], cfg, address="local", workers=1, max_retries=2,
                    captioner_factory=lambda c: DiesOnce(c, str(marker)))
    assert marker.exists(), f"the worker never died: the test tested nothing {res.as_dict()}"
    assert not res.failed, res.failed[0].error
    key = res.outcomes[0].tree_key
    assert trees(tmp_path / "b.sqlite") == {key: loop_reference[key]}

    marker2 = tmp_path / "died2"
    res = ray_index(jobs[:1], cfg.model_copy(update={"store": cfg.store.model_copy(
        update={"path": tmp_path / "c.sqlite"})}), address="local", workers=1, max_retries=0,
        captioner_factory=lambda c: DiesOnce(c, str(marker2)))
    assert marker2.exists() and len(res.failed) == 1  # no retries left: reported, not raised
    assert "died" in res.failed[0].error.lower() or "crash" in res.failed[0].error.lower()


@pytest.mark.slow
def test_ray_actor_holds_a_tiny_random_vlm(lib: Path, tmp_path: Path) -> None:
    """The GPU recipe's plumbing on CPU: a transformers captioner (tiny random Idefics3) loaded once in an
    actor, clips sent to it in batches; the trees equal the plain loop's with the same model."""
    pytest.importorskip("ray")
    pytest.importorskip("transformers")
    from tiny_vlms import build_idefics3
    from videonav.agent.library_ray import ray_index

    model = build_idefics3(tmp_path / "idefics3")
    base = ["embedder.model=hashing", "captioner.backend=transformers", f"captioner.model={json.dumps(str(model))}",
            "captioner.max_new_tokens=4", "captioner.device=cpu", "captioner.batch_size=4"]
    jobs = resolve_jobs(sorted((lib / "good").glob("*.mp4"))[:2])
    loop = index_library(jobs, load_config(None, [*base, f"store.path={json.dumps(str(tmp_path / 'l.sqlite'))}"]))
    cfg = load_config(None, [*base, f"store.path={json.dumps(str(tmp_path / 'r.sqlite'))}"])
    res = ray_index(jobs, cfg, address="local", workers=2)  # no GPU in the cluster: one CPU actor
    assert not loop.failed and not res.failed, (loop.failed, res.failed)
    got = trees(tmp_path / "r.sqlite")
    assert got == trees(tmp_path / "l.sqlite") and len(got) == 2
    assert all(c for t in got.values() for *_, c in t)
    with pytest.raises(LibraryError, match="needs 2 GPUs"):
        ray_index(jobs, load_config(None, [*base, f"store.path={json.dumps(str(tmp_path / 'x.sqlite'))}"]),
                  address="local", workers=1, actors=2, actor_gpus=1)
