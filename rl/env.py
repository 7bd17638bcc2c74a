"""The multi-turn navigation environment GRPO rolls out in (TRL ``environment_factory=``).

TRL turns every public method of the environment into a tool: its schema comes from the
method's signature and docstring, the model's ``<tool_call>`` is parsed by TRL and the method
is called, its return string becomes the ``tool`` turn. So the methods here carry exactly the
names, parameters and docstrings of the stubs in :mod:`videonav.agent.actions` (copied, not
retyped: the prompt the policy trains on is the prompt it is evaluated on), and each one
delegates to :func:`videonav.agent.observe.observe` on a planner :class:`Episode`: the same
observations, the same corrective messages for illegal actions, the same caption budget.

The environment also measures what rewards need and the messages cannot show: the spans read
(for grounding on unions), tool calls made (for the cost term), and which option the option
scorer would pick from what was read (the answer ``videonav eval`` gives in scorer mode).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from videonav.agent import actions as stubs
from videonav.agent.actions import Action, normalise_node_id, option_index
from videonav.agent.config import RunConfig
from videonav.agent.evaluation.datasets import Question
from videonav.agent.observe import Read, observe
from videonav.agent.planner import Episode
from videonav.memory.tree import CaptionTree
from videonav.rl.trajectories import start_episode
from videonav.tools.embed import Embedder
from videonav.tools.text_source import TextTreeSource

OVER = "The episode is over: the answer was given."


@dataclass
class EnvContext:
    """What every environment instance shares: trees, config, embedder, optional option scorer."""

    cfg: RunConfig
    embedder: Embedder
    tree_of: Any  # Callable[[str], CaptionTree]; Any keeps the dataclass picklable-friendly
    scorer: Any = None


class NavigationEnv:
    """One rollout's episode over a stored caption tree; ``reset(**row)`` starts a question."""

    def __init__(self, ctx: EnvContext) -> None:
        self._ctx = ctx
        self._ep: Episode | None = None
        self._source: TextTreeSource | None = None
        self._tree: CaptionTree | None = None
        self._choice: int | None = None
        self._choice_done = False
        self.visited: list[tuple[float, float]] = []
        self.calls = 0
        self.invalid = 0
        self.captions_read = 0
        self.answer_index: int | None = None
        self.done = False

    # -- TRL protocol ----------------------------------------------------------------------------
    def reset(self, **row: Any) -> str | None:
        """Start the row's question; the prompt column already holds the opening turns."""
        q = Question(
            qid=str(row.get("qid", "")),
            video=str(row["video"]),
            question=str(row["question"]),
            options=list(row.get("options") or []),
            truth=row.get("truth"),
        )
        self._tree = self._ctx.tree_of(q.video)
        self._source = TextTreeSource(self._tree, self._ctx.embedder, self._ctx.cfg.planner.inspect_lines)
        self._ep, top = start_episode(self._tree, q)
        self._ep.reads.extend(top)
        self.captions_read = len(top)
        self.visited, self.calls, self.invalid = [], 0, 0
        self.answer_index, self.done = None, False
        self._choice, self._choice_done = None, False
        return None

    # -- tools: same names, parameters and docstrings as videonav.agent.actions ------------------
    def expand(self, node_id: str) -> str:
        return self._act(Action(name="expand", node_id=normalise_node_id(node_id) or str(node_id)))

    def inspect(self, node_id: str, query: str) -> str:
        return self._act(
            Action(name="inspect", node_id=normalise_node_id(node_id) or str(node_id), query=str(query)[:500])
        )

    def search(self, query: str) -> str:
        return self._act(Action(name="search", query=str(query)[:500]))

    def answer(self, answer: str, confidence: float) -> str:
        ep = self._episode()
        if self.done:
            return OVER
        self.done = True
        self.answer_index = option_index(str(answer), ep.options)
        return "Answer recorded."

    expand.__doc__ = stubs.expand.__doc__
    inspect.__doc__ = stubs.inspect.__doc__
    search.__doc__ = stubs.search.__doc__
    answer.__doc__ = stubs.answer.__doc__

    # -- measurements for rewards ------------------------------------------------------------------
    @property
    def reads_choice(self) -> int | None:
        """The option the option scorer picks from everything read (None without scorer/options)."""
        if not self._choice_done:
            self._choice_done = True
            ep = self._ep
            if ep is not None and ep.options and self._ctx.scorer is not None:
                texts = [r.text for r in ep.reads if r.text]
                self._choice = int(np.argmax(self._ctx.scorer.score(ep.question, ep.options, texts)))
        return self._choice

    # -- internals ---------------------------------------------------------------------------------
    def _episode(self) -> Episode:
        if self._ep is None:
            raise RuntimeError("NavigationEnv.reset(**row) must be called before any tool")
        return self._ep

    def _act(self, act: Action) -> str:
        ep = self._episode()
        assert self._source is not None
        if self.done:
            return OVER
        if self.captions_read >= self._ctx.cfg.budget.max_captions:
            return "Out of budget: no more captions can be read. Call answer now."
        obs, reads, err = observe(act, ep, self._source, self._ctx.cfg, self._ctx.embedder)
        self.calls += 1
        self._choice_done = False
        if err:
            self.invalid += 1
            return obs
        self._record(reads)
        return obs

    def _record(self, reads: list[Read]) -> None:
        assert self._ep is not None
        self._ep.reads.extend(reads)
        self._ep.cost.captions_read += len(reads)
        self.captions_read += len(reads)
        self.visited.extend((r.start, r.end) for r in reads)
