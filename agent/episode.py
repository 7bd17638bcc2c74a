"""One question's episode: what is visible, what was read, what it cost, which actions are legal.

Why one class: evaluation (the planner), SFT trajectory generation and the GRPO environment
must agree on what an action costs and which actions a policy may take. Three copies of this
bookkeeping had drifted apart (the GRPO environment let an expand overshoot the caption
budget, an action evaluation never offers), so all three now drive an :class:`Episode`:

- :meth:`Episode.start` builds the opening state (top-level parts visible and read);
- :meth:`Episode.legal_actions` lists the actions that fit the remaining budgets;
- :meth:`Episode.budget_exhausted` names the budget that ends the episode, if any;
- :meth:`Episode.apply` records one step (messages, reads, cost, invalid actions, answer),
  refusing an action that would overshoot a budget with a corrective observation and leaving
  the execution itself to :func:`videonav.agent.observe.observe`.

Policies (the prior and LLM scores of the planner, the teachers' choices) stay outside.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any

from videonav.agent.actions import Action, ParseFailure
from videonav.agent.config import RunConfig
from videonav.agent.observe import Read, node_read, observe
from videonav.agent.prompts import messages_for, quote
from videonav.agent.result import Cost, Step
from videonav.memory.source import TreeSource
from videonav.memory.tree import ROOT, CaptionTree, Node
from videonav.tools.embed import Embedder

OBSERVING = ("expand", "inspect", "search")


def _top(source: TreeSource | CaptionTree) -> list[Node]:
    """The nodes an episode opens on: the root's children (captioned on demand by lazy sources)."""
    tree = source if isinstance(source, CaptionTree) else source.tree
    if tree.is_leaf(ROOT):
        return [tree.root]
    ids = [c.id for c in tree.children(ROOT)]
    return [tree.node(i) for i in ids] if isinstance(source, CaptionTree) else source.ensure(ids)


def opening_messages(source: TreeSource | CaptionTree, question: str, options: list[str]) -> list[dict[str, Any]]:
    """The prompt every episode starts from (what GRPO rows hold before any tool call)."""
    tree = source if isinstance(source, CaptionTree) else source.tree
    return messages_for(question, list(options), tree.duration, [(n, tree.is_leaf(n.id)) for n in _top(source)])


@dataclass
class Episode:
    """Mutable state of one question; ``Episode.start(source, question, options, cfg)`` opens it."""

    tree: CaptionTree
    cfg: RunConfig
    question: str
    options: list[str]
    query: str
    messages: list[dict[str, Any]]
    visible: list[str] = field(default_factory=list)
    expanded: set[str] = field(default_factory=set)
    inspected: set[str] = field(default_factory=set)
    searched: set[str] = field(default_factory=set)
    reads: list[Read] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    cost: Cost = field(default_factory=Cost)
    t0: float = field(default_factory=time.perf_counter)
    answer: Action | None = None
    halted_by: str = ""
    confidence: float = 0.0

    @classmethod
    def start(cls, source: TreeSource | CaptionTree, question: str, options: list[str] | None,
              cfg: RunConfig) -> Episode:
        """The opening state: the root's children visible, their captions read and in the prompt."""
        options = list(options or [])
        tree = source if isinstance(source, CaptionTree) else source.tree
        top = _top(source)
        msgs = messages_for(question, options, tree.duration, [(n, tree.is_leaf(n.id)) for n in top])
        ep = cls(tree=tree, cfg=cfg, question=question, options=options, query=question + " " + " ".join(options),
                 messages=msgs, visible=[n.id for n in top])
        ep.reads.extend(node_read(tree, n) for n in top)
        ep.cost.captions_read = len(top)
        return ep

    # -- budgets ------------------------------------------------------------------------------
    @property
    def captions_left(self) -> int:
        return self.cfg.budget.max_captions - self.cost.captions_read

    @property
    def observations(self) -> int:
        """Valid expand/inspect/search steps so far (what ``planner.min_reads`` counts)."""
        return sum(1 for s in self.steps if s.valid and s.action in OBSERVING)

    def budget_exhausted(self, clock: bool = True) -> str:
        """``budget:<kind>`` for the first budget used up, else ''.

        ``clock=False`` skips ``max_seconds``: a teacher's lookahead or a GRPO batch's wall
        time says nothing about the policy's episode."""
        b, c = self.cfg.budget, self.cost
        if c.rounds >= b.max_rounds:
            return "budget:rounds"
        if c.total_tool_calls >= b.max_tool_calls:
            return "budget:tool_calls"
        if clock and time.perf_counter() - self.t0 >= b.max_seconds:
            return "budget:seconds"
        if c.tokens >= b.max_tokens:
            return "budget:tokens"
        if c.captions_read >= b.max_captions:
            return "budget:captions"
        return ""

    def close_if_exhausted(self, clock: bool = True) -> str:
        """Set (and return) the stop reason when the episode is over or out of budget."""
        if not self.halted_by:
            self.halted_by = self.budget_exhausted(clock)
        return self.halted_by

    def halt_if_confident(self, threshold: float, min_reads: int) -> bool:
        """Stop on the option scorer's confidence, never before ``min_reads`` observations."""
        if self.confidence >= threshold and self.observations >= min_reads:
            self.halted_by = "confident"
            return True
        return False

    # -- legality -----------------------------------------------------------------------------
    def legal_actions(self) -> list[Action]:
        """The actions a policy may take now, in a fixed order (for each visible node: expand,
        inspect with the question; then search with question + options; then answer).

        ``answer`` carries no letter: which option to name is the policy's choice. Once a
        budget is used up only ``answer`` is left; once the episode is over, nothing."""
        if self.answer is not None:
            return []
        out: list[Action] = []
        if not self.budget_exhausted(clock=False):
            tree = self.tree
            for nid in self.visible:
                if not tree.is_leaf(nid) and nid not in self.expanded:
                    out.append(Action(name="expand", node_id=nid))
                if nid not in self.inspected:
                    out.append(Action(name="inspect", node_id=nid, query=self.question))
            if self.question not in self.searched:
                out.append(Action(name="search", query=self.query))
            out = [a for a in out if not self.refusal(a)]
        out.append(Action(name="answer"))
        return out

    def search_key(self, query: str | None) -> str:
        """What :func:`observe` records in ``searched`` for a search with ``query``."""
        q = (query or "").strip()
        return self.question if q == self.query else q

    def refusal(self, act: Action) -> str:
        """The corrective observation for an action that is not legal now, else ''.

        Refused here: any tool call once a budget is used up, a node that is not visible yet
        (evaluation only offers the frontier), an expand or search whose reads overshoot the
        caption budget, a repeated search. Structural mistakes (no such node, expanding a clip,
        repeating an expand or inspect) are left to :func:`observe`, which explains them the
        same way for every caller. The clock is checked between turns, not here: a turn the
        policy already spent is executed."""
        if act.name == "answer":
            return ""
        why = self.budget_exhausted(clock=False)
        if why:
            return f"Out of budget ({why.split(':', 1)[1]}): no more tool calls. Call answer now."
        left = self.captions_left
        nid = act.node_id or ""
        if act.name in ("expand", "inspect") and nid in self.tree and nid not in self.visible:
            return (f"Invalid action: [{nid}] is not visible yet; expand its parent first. "
                    f"Visible nodes: {', '.join(self.visible[:20])}.")
        if act.name == "expand":
            if nid in self.tree and not self.tree.is_leaf(nid) and nid not in self.expanded:
                n = len(self.tree.children(nid))
                if n > left:
                    return (f"Invalid action: expanding [{nid}] would read {n} captions but only {left} are left "
                            "in the budget; inspect a node or answer instead.")
        elif act.name == "search":
            k = self.cfg.planner.search_k
            if self.search_key(act.query) in self.searched:
                return f"Invalid action: {quote(act.query, 200)} was already searched; its matches are above."
            if k > left:
                return (f"Invalid action: a search reads {k} captions but only {left} are left in the budget; "
                        "inspect a node or answer instead.")
        return ""

    # -- one step -----------------------------------------------------------------------------
    def apply(self, act: Action | ParseFailure, source: TreeSource, embedder: Embedder, *, raw: str | None = None,
              content: str = "", tokens: tuple[int, int] = (0, 0)) -> Step:
        """Record one policy turn and return its :class:`Step` (also appended to ``steps``).

        ``raw`` is the model's reply as generated (default: the action's canonical render),
        ``content`` the assistant text kept beside the tool call (trajectories' reasoning),
        ``tokens`` the (prompt, completion) tokens the turn cost."""
        t = time.perf_counter()
        why = "" if isinstance(act, ParseFailure) else self.refusal(act)  # judged on the state before the turn
        pt, ct = tokens
        c = self.cost
        c.prompt_tokens += pt
        c.completion_tokens += ct
        c.rounds += 1
        if raw is None:
            raw = act.raw if isinstance(act, ParseFailure) else act.render()
        raw = raw[:2000]
        if isinstance(act, ParseFailure):
            c.invalid_actions += 1
            obs = f"Invalid action: {act.error}. Visible nodes: {', '.join(self.visible[:20])}."
            self.messages += [{"role": "assistant", "content": raw}, {"role": "user", "content": obs}]
            step = Step(round=c.rounds, action="invalid", raw=raw, observation=obs, valid=False, prompt_tokens=pt,
                        completion_tokens=ct, seconds=time.perf_counter() - t)
        elif act.name == "answer":
            c.tool_calls["answer"] = c.tool_calls.get("answer", 0) + 1
            self.answer = act
            self.halted_by = self.halted_by or "planner"
            self.messages.append({"role": "assistant", "content": content, "tool_calls": [act.tool_call()]})
            step = Step(round=c.rounds, action="answer", arguments=act.arguments(), raw=raw, prompt_tokens=pt,
                        completion_tokens=ct, seconds=time.perf_counter() - t)
        else:
            obs, new, error = (why, [], True) if why else observe(act, self, source, self.cfg, embedder)
            self.messages.append({"role": "assistant", "content": content, "tool_calls": [act.tool_call()]})
            self.messages.append({"role": "tool", "name": act.name, "content": obs})
            if error:
                c.invalid_actions += 1
            else:
                c.tool_calls[act.name] = c.tool_calls.get(act.name, 0) + 1
            self.reads.extend(new)
            c.captions_read += len(new)
            c.tool_seconds += time.perf_counter() - t
            step = Step(round=c.rounds, action=act.name, arguments=act.arguments(), raw=raw, observation=obs,
                        valid=not error, reads=len(new), prompt_tokens=pt, completion_tokens=ct,
                        seconds=time.perf_counter() - t, confidence=self.confidence)
        self.steps.append(step)
        return step

    def fork(self) -> Episode:
        """A copy to try an action on (a teacher's lookahead); shares the tree and config."""
        return replace(self, messages=list(self.messages), visible=list(self.visible), expanded=set(self.expanded),
                       inspected=set(self.inspected), searched=set(self.searched), reads=list(self.reads),
                       steps=list(self.steps), cost=self.cost.model_copy(deep=True))
