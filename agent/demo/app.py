"""The demo's work, without the UI: sample video, safe uploads, indexing, asking, chapters.

Why a UI-free service: every handler the gradio page calls is a plain method here, so the
default test run covers them in milliseconds-to-seconds without a browser (``tests/test_demo.py``),
and :mod:`videonav.agent.demo.ui` stays a thin layout that turns results into components and
exceptions into a status message.

Upload safety, in order: a size limit (checked before reading a byte of content), a container
check (PyAV must name a real video container, not an image/gif/audio demuxer, and
:func:`videonav.tools.video.probe.probe` must find and decode a video track), then the file is copied
to ``<store dir>/demo/uploads/<sha256>.<ext>``: the name is the content hash and the extension
comes from the probed container, so nothing the user typed becomes part of a path.

One lock serialises index/ask/chapters: the machine has few cores, the store has one SQLite
connection, and gradio may run two events at once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from videonav.agent.config import RunConfig
from videonav.agent.result import AskResult
from videonav.memory.store import Store, default_store_path
from videonav.memory.tree import CaptionTree

log = logging.getLogger(__name__)

STRATEGY_CHOICES = ("guided", "navigate", "search-k", "uniform-k", "all-captions")
# PyAV/ffmpeg demuxer names of real video containers (a format name lists aliases, comma-separated)
VIDEO_CONTAINERS = {"mov": ".mp4", "mp4": ".mp4", "matroska": ".mkv", "webm": ".webm", "avi": ".avi",
                    "mpegts": ".ts", "flv": ".flv", "mpeg": ".mpg", "ogg": ".ogv", "asf": ".wmv"}
EXPORT_EXT = {"json": ".json", "md": ".md", "youtube": ".youtube.txt", "webvtt": ".vtt",
              "ffmetadata": ".ffmetadata.txt"}
MAX_QUESTION_CHARS = 500
Progress = Callable[[float, str], None]
"""``progress(fraction 0..1, description)``."""


class DemoError(ValueError):
    """Something the user can fix (bad upload, empty question, nothing indexed); shown in the page."""

    user_error = True


@dataclass(frozen=True)
class DemoSettings:
    """Demo-only knobs (not part of ``RunConfig``: they change no result, only what the page accepts)."""

    max_upload_mb: float = 500.0
    sample_minutes: float = 2.0
    sample_video: Path | None = None  # use this file as the sample instead of generating one


@dataclass
class Indexed:
    """What the page remembers about the current video (kept in a ``gr.State``)."""

    video: str
    tree_key: str
    name: str
    questions: list[dict[str, Any]]


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """Full-content hash: uploads are size-capped, so hashing every byte is cheap and collision-proof."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def container_ext(path: Path) -> str:
    """The stored extension for a real video container, or a :class:`DemoError`.

    Images, GIFs and audio files also open in PyAV (as ``image2``/``png_pipe``/``gif``/``mp3``
    demuxers), so "PyAV can open it" is not enough: the demuxer must be a video container.
    """
    import av

    try:
        with av.open(str(path)) as c:
            names = c.format.name.split(",")
    except (av.FFmpegError, OSError, UnicodeDecodeError):
        raise DemoError("the upload is not a video file (no known container could read it); "
                        "upload an .mp4, .mkv, .webm, .mov or .avi video") from None
    for name in names:
        if name in VIDEO_CONTAINERS:
            return VIDEO_CONTAINERS[name]
    raise DemoError(f"the upload is a {names[0]!r} file, not a video container; "
                    "upload an .mp4, .mkv, .webm, .mov or .avi video")


def parse_options(text: str | None) -> list[str]:
    """Options from the page's textbox: one per line, blanks dropped.

    >>> parse_options(" 12\\n\\n47 \\n")
    ['12', '47']
    """
    return [o.strip() for o in (text or "").splitlines() if o.strip()]


class DemoService:
    """Holds the config, the store and the lazily built models for one running demo."""

    def __init__(self, cfg: RunConfig, settings: DemoSettings | None = None) -> None:
        self.cfg = cfg
        self.settings = settings or DemoSettings()
        self.store_path = Path(cfg.store.path) if cfg.store.path else default_store_path()
        self.root = self.store_path.parent / "demo"
        for sub in ("uploads", "samples", "exports", "clips"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self.store = Store(self.store_path)
        self._lock = threading.Lock()
        self._runtime: Any = None
        self._llm: Any = None

    # -- models, built on first use -------------------------------------------------------------
    def runtime(self, need_llm: bool) -> tuple[Any, Any, Any]:
        """(embedder, scorer, llm or None); the LLM only when a question needs it (it takes ~20 s)."""
        if self._runtime is None:
            from videonav.agent.scorer import load_default_scorer
            from videonav.tools.embed import make_embedder

            emb = make_embedder(self.cfg.embedder)
            self._runtime = (emb, load_default_scorer(emb))
        if need_llm and self._llm is None and self.cfg.planner.backend != "none":
            from videonav.agent.llm.base import make_llm

            self._llm = make_llm(self.cfg.planner)
        emb, scorer = self._runtime
        return emb, scorer, self._llm if need_llm else None

    # -- videos ---------------------------------------------------------------------------------
    def sample_video(self, progress: Progress | None = None) -> Path:
        """The sample lecture video, generated into the store dir on first use (a few seconds)."""
        if self.settings.sample_video is not None:
            return Path(self.settings.sample_video)
        minutes = self.settings.sample_minutes
        path = self.root / "samples" / f"sample_{minutes:g}min.mp4"
        if path.is_file():
            return path
        from videonav.tools.video.sample_video import main as make_sample

        if progress:
            progress(0.0, f"generating a {minutes:g}-minute sample video")
        try:
            make_sample(["--minutes", f"{minutes:g}", "--out", str(path.parent)])
        except Exception as e:  # noqa: BLE001 - any generator failure becomes one UI message
            log.error("sample generation failed: %s", e)
            raise DemoError("could not generate the sample video (see the server log); "
                            "upload a video instead") from e
        if not path.is_file():
            raise DemoError("could not generate the sample video; upload a video instead")
        return path

    def store_upload(self, upload: str | Path | None) -> Path:
        """Check an uploaded temp file and copy it under the store dir, named by its content hash."""
        if not upload:
            raise DemoError("choose a video file to upload first")
        src = Path(upload)
        if not src.is_file():
            raise DemoError("the upload did not arrive; try again")
        limit = int(self.settings.max_upload_mb * 1024 * 1024)
        size = src.stat().st_size
        if size > limit:
            raise DemoError(f"the upload is {size / 2**20:.1f} MB, over the demo's limit of "
                            f"{self.settings.max_upload_mb:g} MB (start the demo with --max-upload-mb to "
                            "change it)")
        if size == 0:
            raise DemoError("the upload is empty (0 bytes)")
        ext = container_ext(src)
        from videonav.tools.video.probe import VideoError, probe

        try:
            probe(src)
        except VideoError as e:  # the message names the temp path; say it about "the upload" instead
            raise DemoError(str(e).replace(str(src), "the upload")) from None
        dest = self.root / "uploads" / f"{sha256_file(src)}{ext}"
        if not dest.is_file():
            tmp = dest.with_name(dest.name + f".part{os.getpid()}")
            shutil.copyfile(src, tmp)
            os.replace(tmp, dest)
        return dest

    def questions_for(self, video: Path) -> list[dict[str, Any]]:
        """The generator's ``.questions.json`` beside a sample video (empty for uploads)."""
        qfile = video.with_suffix(".questions.json")
        if not qfile.is_file():
            return []
        try:
            data = json.loads(qfile.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return []
        return [q for q in data if isinstance(q, dict) and q.get("question")]

    # -- index / ask / chapters -------------------------------------------------------------------
    def index(self, video: Path, name: str = "", progress: Progress | None = None) -> tuple[Indexed, Any]:
        """Build (or reuse) the video's caption tree; returns the page state and the index stats."""
        from videonav.tools.video.index import index_video

        def cb(done: float, total: float, stage: str) -> None:
            if progress is None:
                return
            frac = done / total if total else 1.0
            if stage == "scan":
                progress(0.3 * frac, "scanning shots")
            else:
                progress(0.3 + 0.7 * frac, f"captioning nodes {int(done)}/{int(total)}")

        with self._lock:
            res = index_video(video, store=self.store, video=self.cfg.video, tree=self.cfg.tree,
                              captioner=self.cfg.captioner, embedder=self.cfg.embedder,
                              lazy=self.cfg.tree.lazy, progress=cb)
        state = Indexed(video=str(video), tree_key=res.tree_key, name=name or video.name,
                        questions=self.questions_for(video))
        return state, res.stats

    def tree(self, state: Indexed | None) -> CaptionTree:
        if state is None:
            raise DemoError("index a video first (pick the sample or upload one, then press Index)")
        return self.store.load_tree(state.tree_key)

    def play(self, state: Indexed | None, start: float, end: float) -> Any:
        """A :class:`~videonav.agent.demo.clips.Clip` of the current video's ``[start, end]`` for the
        player, cut under ``<store dir>/demo/clips/`` (the only video files the page may read)."""
        from videonav.agent.demo.clips import cut_clip

        if state is None:
            raise DemoError("index a video first (pick the sample or upload one, then press Index)")
        return cut_clip(state.video, float(start), float(end), self.root / "clips" / state.tree_key)

    def ask(self, state: Indexed | None, question: str, options: list[str],
            strategy: str = "guided", progress: Progress | None = None) -> AskResult:
        """One question through the chosen strategy; the run is saved like ``videonav ask`` saves it."""
        from videonav.agent.actions import LETTERS
        from videonav.agent.runlog import save_run
        from videonav.agent.strategies import needs_llm, run_strategy
        from videonav.tools.video.index import open_source

        if state is None:
            raise DemoError("index a video first (pick the sample or upload one, then press Index)")
        question = " ".join((question or "").split())
        if not question:
            raise DemoError("type a question first")
        if len(question) > MAX_QUESTION_CHARS:
            raise DemoError(f"the question is longer than {MAX_QUESTION_CHARS} characters; shorten it")
        if len(options) > len(LETTERS) or len(options) == 1:
            raise DemoError(f"give no options (free answer) or 2 to {len(LETTERS)} options, one per line")
        if strategy not in STRATEGY_CHOICES:
            raise DemoError(f"unknown strategy {strategy!r}")
        need_llm = needs_llm(strategy, self.cfg, options)  # as `videonav ask` decides (guided: the LLM gate)
        with self._lock:
            if progress:
                progress(0.05, "loading the planner LLM (first question only)" if need_llm and self._llm is None
                         and self.cfg.planner.backend != "none" else "loading the models")
            emb, scorer, llm = self.runtime(need_llm)
            if progress:
                progress(0.3, f"answering with {strategy}: reading the caption tree (missing captions are "
                              "built from frames)")
            source = open_source(state.video, self.cfg, self.store, lazy=True)
            try:
                res = run_strategy(strategy, source, question, options, self.cfg, llm, emb, scorer,
                                   k=self.cfg.budget.max_captions)
            finally:
                source.close()
            save_run(self.store, "ask", self.cfg, res.model_dump(exclude={"trace"}),
                     [s.model_dump() for s in res.trace], state.tree_key)
        return res

    def search(self, query: str, top: int = 10) -> list[Any]:
        """Hybrid search over every video in the demo's store (what ``videonav search`` does)."""
        from videonav.tools.search import Searcher

        with self._lock:
            emb, _, _ = self.runtime(False)
            return Searcher.for_store(self.store, emb).search(query or "", top=top)

    def chapters(self, state: Indexed | None, llm_titles: bool = False,
                 progress: Progress | None = None) -> tuple[list[Any], dict[str, Path], list[str]]:
        """Chapters of the current tree and one export file per format under
        ``<store dir>/demo/exports/<tree key>/``; formats whose rules the chapters cannot meet
        (YouTube wants 3+ chapters of 10+ s) are listed as skipped. Titles are extractive (instant,
        never hallucinated) unless ``llm_titles``: then the planner LLM writes them, one call per
        chapter (minutes on a CPU), and ``progress`` reports each chapter."""
        from videonav.agent.chapters.build import ChapterError, make_chapters
        from videonav.agent.chapters.formats import FORMATS, render
        from videonav.agent.chapters.titles import ChapterWriter

        tree = self.tree(state)
        assert state is not None
        scan = self.store.cache_get(f"scan:{state.tree_key}") or {}
        if isinstance(scan, dict) and isinstance(scan.get("cuts"), list):
            tree.meta["shot_cuts"] = [float(c) for c in scan["cuts"]]
        ccfg = self.cfg.chapters  # `videonav demo --set chapters.x=...` reaches it
        with self._lock:
            if progress:
                progress(0.0, "loading the planner LLM for titles" if llm_titles else "loading the embedder")
            emb, _, llm = self.runtime(llm_titles)
            if llm_titles and llm is None:
                raise DemoError("LLM titles need a planner LLM (start the demo without "
                                "--set planner.backend=none); untick LLM titles for extractive ones")
            writer = ChapterWriter(emb, llm, max_words=ccfg.title_words,
                                   summary_sentences=ccfg.summary_sentences)
            if progress:
                _report_writes(writer, progress, "LLM" if llm else "extractive")
            chapters = make_chapters(tree, emb, writer, ccfg)
        folder = self.root / "exports" / state.tree_key
        folder.mkdir(parents=True, exist_ok=True)
        files: dict[str, Path] = {}
        skipped: list[str] = []
        for fmt in FORMATS:
            try:
                text = render(fmt, chapters, tree.video_id, tree.duration,
                              titles="llm" if llm else "extractive", **writer.stats)
            except ChapterError as e:
                skipped.append(f"{fmt}: {e}")
                continue
            path = folder / f"chapters{EXPORT_EXT[fmt]}"
            path.write_text(text, encoding="utf-8")
            files[fmt] = path
        return chapters, files, skipped

    def close(self) -> None:
        self.store.close()


def _report_writes(writer: Any, progress: Progress, kind: str) -> None:
    """Make ``writer`` call ``progress`` once per chapter written (its ``set_chapters`` gives the count)."""
    total = [0]
    done = [0]
    set_chapters, write = writer.set_chapters, writer.write

    def counted_set(chapters: Any) -> None:
        total[0] = len(chapters)
        progress(0.02, f"writing {total[0]} chapter titles ({kind})")
        set_chapters(chapters)

    def counted_write(*args: Any, **kwargs: Any) -> Any:
        out = write(*args, **kwargs)
        done[0] += 1
        n = max(total[0], done[0])
        progress(min(1.0, done[0] / n), f"chapter titles ({kind}): {done[0]}/{n}")
        return out

    writer.set_chapters, writer.write = counted_set, counted_write
