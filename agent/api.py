"""The Python API: a ``Video`` to index, open, question and chapter, without the CLI.

Why a facade: a notebook user should not have to assemble ``load_config``, ``build_runtime``, a
tree source and ``run_strategy`` from internal modules. ``Video`` keeps the embedder, scorer,
LLM and compiled planners between questions (building them is the slow part), and records every
``ask`` in its store as ``videonav ask`` does. The same helpers back the CLI
(``videonav.agent.sources``), so a tree opened here is the tree the CLI would open. Nothing
here prints or exits: errors are exceptions whose message names the problem and the fix.

>>> Video.__name__, callable(Video.index)
('Video', True)
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from videonav.agent.config import RunConfig, load_config
from videonav.agent.result import AskResult

if TYPE_CHECKING:
    from videonav.agent.runtime import Runtime
    from videonav.memory.source import TreeSource
    from videonav.memory.tree import CaptionTree
    from videonav.tools.video.source import Progress

ConfigLike: TypeAlias = RunConfig | str | Path | None
Overrides: TypeAlias = Mapping[str, Any] | Sequence[str] | None


def make_config(config: ConfigLike = None, overrides: Overrides = None, store: str | Path | None = None) -> RunConfig:
    """A ``RunConfig`` from a config object or YAML path, then overrides, then ``store``.

    ``overrides`` are ``"section.key=value"`` strings (as ``--set`` takes) or a mapping of dotted
    keys to values.

    >>> make_config(overrides={"planner.backend": "none", "budget.max_rounds": 3}).budget.max_rounds
    3
    >>> make_config(make_config(overrides=["seed=7"]), ["budget.max_captions=5"]).seed
    7
    """
    from videonav.agent.config import _merge, parse_override

    items = [f"{k}={_yaml_value(v)}" for k, v in overrides.items()] if isinstance(overrides, Mapping) \
        else list(overrides or [])
    if store is not None:
        items.append(f"store.path={_yaml_value(str(store))}")
    if not isinstance(config, RunConfig):
        return load_config(config, items)
    data = config.model_dump(mode="json")
    for item in items:
        data = _merge(data, parse_override(item))
    return load_config(None, data)


def _yaml_value(v: Any) -> str:
    import json

    return json.dumps(v, default=str)  # JSON is YAML: strings stay strings ("01" is not 1)


class Video:
    """One video's caption tree, ready for questions and chapters.

    Build it with :meth:`index` (caption a video now), :meth:`open` (a video, store key or tree
    file) or :meth:`from_tree` (our JSON export). A video-backed instance keeps its video open so
    that a lazy tree gets the captions a question needs; :meth:`close` (or ``with``) releases it.
    """

    def __init__(self, tree: CaptionTree, cfg: RunConfig, *, key: str | None = None,
                 path: Path | None = None) -> None:
        self.tree = tree
        self.cfg = cfg
        self.key = key
        self.path = path
        self.last_run: Path | None = None
        """Run folder (config.yaml, result.json, trace.json) of the last recorded ``ask``."""
        self._rt: Runtime | None = None
        self._source: TreeSource | None = None
        self._planners: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"Video({self.tree.video_id!r}, {self.duration:.0f} s, {len(self.tree)} nodes, key={self.key!r})"

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def index(cls, path: str | Path, *, store: str | Path | None = None, config: ConfigLike = None,
              overrides: Overrides = None, lazy: bool | None = None, subtitles: str | Path | None = None,
              entities: Sequence[str] = (), progress: Progress | None = None) -> Video:
        """Index ``path`` (or finish a partial index) into the store, as ``videonav index`` does.

        ``lazy=True`` captions only the top ``tree.eager_levels`` levels now; questions caption
        the rest on demand. ``progress(done, total, stage)`` is called while it works.
        """
        from videonav.agent.sources import index_and_record

        cfg = make_config(config, overrides, store)
        if lazy is not None:
            cfg = make_config(cfg, [f"tree.lazy={str(lazy).lower()}"])
        result, _ = index_and_record(path, cfg, subtitles=subtitles, entities=entities, progress=progress)
        return cls(result.tree, cfg, key=result.tree_key, path=Path(path))

    @classmethod
    def open(cls, path_or_key: str | Path, *, store: str | Path | None = None, config: ConfigLike = None,
             overrides: Overrides = None) -> Video:
        """A tree key in the store, a tree or caption file, or a video (indexed lazily if new)."""
        from videonav.agent.sources import load_tree
        from videonav.memory.store import Store

        cfg = make_config(config, overrides, store)
        with Store(cfg.store.path) as st:
            key, tree = load_tree(path_or_key, st, cfg)
        p = Path(path_or_key)
        is_video = p.exists() and p.suffix.lower() != ".json"
        return cls(tree, cfg, key=key, path=p if is_video else None)

    @classmethod
    def from_tree(cls, json_path: str | Path, *, store: str | Path | None = None, config: ConfigLike = None,
                  overrides: Overrides = None) -> Video:
        """A caption tree from a JSON file (``videonav tree export``, or LongVideo-R1 / ``{second: caption}``)."""
        p = Path(json_path)
        if not p.is_file():
            raise FileNotFoundError(f"{p}: no such tree file; export one with `videonav tree export KEY -o FILE`")
        if p.suffix.lower() != ".json":
            raise ValueError(f"{p}: a tree file must be .json; open videos with Video.open or Video.index")
        return cls.open(p, store=store, config=config, overrides=overrides)

    # -- properties -------------------------------------------------------------------------
    @property
    def video_id(self) -> str:
        return self.tree.video_id

    @property
    def duration(self) -> float:
        return float(self.tree.duration)

    # -- questions --------------------------------------------------------------------------
    def _runtime(self, need_llm: bool) -> Runtime:
        from videonav.agent.llm.base import make_llm
        from videonav.agent.runtime import build_runtime

        if self._rt is None:
            self._rt = build_runtime(self.cfg, need_llm=need_llm)
        elif need_llm and self._rt.llm is None and self.cfg.planner.backend != "none":
            self._rt.llm = make_llm(self.cfg.planner)
            self._planners.clear()  # compiled without the LLM
        return self._rt

    def _tree_source(self, rt: Runtime) -> TreeSource:
        if self._source is None:
            from videonav.agent.sources import question_source

            self._source = question_source(self.path, self.tree, self.cfg, rt.store, rt.embedder)
            self.tree, self.key = self._source.tree, self._source.tree_key or self.key
        return self._source

    def ask(self, question: str, options: Sequence[str] | None = None, strategy: str = "guided", *,
            record: bool = True) -> AskResult:
        """Answer ``question`` (multiple choice when ``options`` are given) with ``strategy``.

        Returns the ``AskResult``: ``answer``, ``option_index``, ``confidence``, ``evidence``
        (cited spans), ``visited`` and ``trace`` (the path taken) and ``cost``. Strategies:
        ``guided`` (default), ``navigate``, ``all-captions``, ``uniform-k``, ``search-k``.
        ``record`` saves config, result and trace to the store and a run folder (``last_run``).
        """
        from videonav.agent.inputs import check_question
        from videonav.agent.strategies import STRATEGIES, needs_llm, run_strategy

        if strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {strategy!r}; choose from {', '.join(STRATEGIES)}")
        opts = [str(o) for o in options or []]
        check_question(question, opts)  # before any model is loaded
        rt = self._runtime(needs_llm(strategy, self.cfg, opts))
        res = run_strategy(strategy, self._tree_source(rt), question, opts, self.cfg, rt.llm, rt.embedder,
                           rt.scorer, k=self.cfg.budget.max_captions, planners=self._planners)
        if record:
            from videonav.agent.runlog import save_run

            self.last_run = save_run(rt.store, "ask", self.cfg, res.model_dump(exclude={"trace"}),
                                     [s.model_dump() for s in res.trace], self.key)
        return res

    # -- chapters ---------------------------------------------------------------------------
    def chapters(self, format: str = "json", *, count: int | None = None, min_seconds: float | None = None,
                 level: int | None = None, sections: bool | None = None, titles: str = "auto") -> str:
        """Chapter titles and summaries, rendered as ``json``, ``md``, ``youtube``, ``webvtt`` or ``ffmetadata``.

        The arguments override the config's ``chapters`` section (as the flags of ``videonav
        chapters`` do); ``youtube`` asks for at least 3 chapters. A video-backed instance is
        captioned fully first (chapters need every unit). ``titles``: ``auto`` (the planner LLM
        when ``planner.backend`` is not ``none`` and it loads, else extractive, with a warning),
        ``llm`` or ``extractive``.
        """
        from videonav.agent.chapters.build import ChapterError, make_chapters
        from videonav.agent.chapters.formats import FORMATS, render
        from videonav.agent.chapters.titles import ChapterWriter

        if format not in FORMATS:
            raise ChapterError(f"unknown chapter format {format!r}; choose one of {', '.join(FORMATS)}")
        if titles not in ("auto", "llm", "extractive"):
            raise ChapterError(f"titles={titles!r}: choose auto, llm or extractive")
        given = {"count": count, "min_seconds": min_seconds, "level": level, "sections": sections}
        ccfg = make_config(self.cfg, {f"chapters.{k}": v for k, v in given.items() if v is not None}).chapters
        if format == "youtube" and ccfg.min_chapters < 3:  # YouTube shows chapters only from three on
            ccfg = ccfg.model_copy(update={"min_chapters": 3})
        tree = self.tree
        if self.path is not None:
            from videonav.agent.sources import fully_indexed_tree

            tree = fully_indexed_tree(self.path, self.cfg, self.cfg.store.path)
            self.tree = tree
            if self._source is not None:  # its in-memory tree predates these captions: reopen on the next ask
                self._source.close()
                self._source = None
        rt = self._runtime(need_llm=False)
        writer = ChapterWriter(rt.embedder, self._title_llm(titles), max_words=ccfg.title_words,
                               summary_sentences=ccfg.summary_sentences)
        chapters = make_chapters(tree, rt.embedder, writer, ccfg)
        return render(format, chapters, tree.video_id, tree.duration,
                      titles=writer.llm.model_id if writer.llm is not None else "extractive", **writer.stats)

    def _title_llm(self, titles: str) -> Any:
        from videonav.agent.chapters.build import ChapterError

        if titles == "extractive" or (titles == "auto" and self.cfg.planner.backend == "none"):
            return None
        if self.cfg.planner.backend == "none":
            raise ChapterError("titles='llm' needs a planner LLM: set planner.backend (e.g. transformers)")
        try:
            return self._runtime(need_llm=True).llm
        except (ImportError, RuntimeError, ValueError, OSError) as e:
            if titles == "llm":
                raise
            warnings.warn(f"planner LLM unavailable ({e}); using extractive chapter titles", stacklevel=3)
            return None

    # -- lifetime ---------------------------------------------------------------------------
    def close(self) -> None:
        """Release the video reader and the store connection (a later call reopens them)."""
        if self._source is not None:
            self._source.close()
        self._source = None
        if self._rt is not None:
            self._rt.store.close()
            self._rt = None
            self._planners.clear()

    def __enter__(self) -> Video:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def ask(video: Video | str | Path, question: str, options: Sequence[str] | None = None, strategy: str = "guided",
        *, store: str | Path | None = None, config: ConfigLike = None, overrides: Overrides = None) -> AskResult:
    """One question, one call: ``video`` is a ``Video``, a video file, a tree file or a store key."""
    if isinstance(video, Video):
        return video.ask(question, options, strategy)
    with Video.open(video, store=store, config=config, overrides=overrides) as v:
        return v.ask(question, options, strategy)
