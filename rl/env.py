"""The multi-turn navigation environment GRPO rolls out in (TRL ``environment_factory=``).

TRL turns every public method of the environment into a tool: its schema comes from the
method's signature and docstring, the model's ``<tool_call>`` is parsed by TRL and the method
is called, its return string becomes the ``tool`` turn. So the methods here carry exactly the
names, parameters and docstrings of the stubs in :mod:`videonav.agent.actions` (copied, not
retyped: the prompt the policy trains on is the prompt it is evaluated on), and each one is
:meth:`videonav.agent.episode.Episode.apply` on the evaluation's own :class:`Episode`: the
same observations, the same corrective messages for actions evaluation would not take
(``legal_actions()``), the same budgets (all but wall-clock seconds, which a GRPO batch's
timing would make meaningless).

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
from videonav.agent.episode import Episode
from videonav.memory.tree import CaptionTree
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
        self._opening = 0
        self._choice: int | None = None
        self._choice_done = False
        self.answer_index: int | None = None
        self.done = False

    # -- TRL protocol ----------------------------------------------------------------------------
    def reset(self, **row: Any) -> str | None:
        """Start the row's question; the prompt column already holds the opening turns."""
        tree: CaptionTree = self._ctx.tree_of(str(row["video"]))
        self._source = TextTreeSource(tree, self._ctx.embedder, self._ctx.cfg.planner.inspect_lines)
        self._ep = Episode.start(self._source, str(row["question"]), list(row.get("options") or []), self._ctx.cfg)
        self._opening = len(self._ep.reads)
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
        ep = self.episode
        if self.done:
            return OVER
        try:
            conf: float | None = float(confidence)
        except (TypeError, ValueError):
            conf = None
        ep.apply(Action(name="answer", answer=str(answer), confidence=conf), self._src(), self._ctx.embedder)
        self.done = True
        self.answer_index = option_index(str(answer), ep.options)
        return "Answer recorded."

    expand.__doc__ = stubs.expand.__doc__
    inspect.__doc__ = stubs.inspect.__doc__
    search.__doc__ = stubs.search.__doc__
    answer.__doc__ = stubs.answer.__doc__

    # -- measurements for rewards (read from the episode: one bookkeeping for eval and training) --
    @property
    def episode(self) -> Episode:
        """The current :class:`Episode` (reads, cost, stop reason, legal actions)."""
        if self._ep is None:
            raise RuntimeError("NavigationEnv.reset(**row) must be called before any tool")
        return self._ep

    @property
    def calls(self) -> int:
        """Tool calls made (valid or refused; ``answer`` excluded): the cost term's count."""
        return 0 if self._ep is None else self._ep.cost.total_tool_calls + self._ep.cost.invalid_actions

    @property
    def invalid(self) -> int:
        return 0 if self._ep is None else self._ep.cost.invalid_actions

    @property
    def captions_read(self) -> int:
        return 0 if self._ep is None else self._ep.cost.captions_read

    @property
    def visited(self) -> list[tuple[float, float]]:
        """Spans read by the policy's own tool calls (the opening top level excluded)."""
        return [] if self._ep is None else [(r.start, r.end) for r in self._ep.reads[self._opening:]]

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
    def _src(self) -> TextTreeSource:
        assert self._source is not None
        return self._source

    def _act(self, act: Action) -> str:
        """Apply ``act`` to the episode exactly as evaluation would: an action that is not legal
        now (over a budget, or structurally wrong) gets the same corrective observation."""
        ep = self.episode
        if self.done:
            return OVER
        step = ep.apply(act, self._src(), self._ctx.embedder)
        ep.close_if_exhausted(clock=False)  # evaluation would stop here; only answer stays legal
        if step.reads:
            self._choice_done = False
        return step.observation
