"""The navigating planner: a langgraph loop of decide -> act until confident or out of budget.

Each round the policy takes ONE action. Two decoding modes share everything else:
- ``tools``: the LLM generates freely in its chat template's tool-call format; the reply is
  parsed tolerantly and an unreadable or illegal action becomes a corrective observation.
- ``constrained``: every legal action is rendered and scored by the LLM's log-likelihood
  (plus the optional embedding prior), so even a 135M model never emits an illegal action.
The embedding prior (``planner.prior="embedding"``, the ``guided`` strategy) adds the
similarity of a node's caption to the question and options to the score of acting on it:
a cheap signal a tiny model can follow. Halting does not depend on the LLM noticing it is
done: after every observation the option scorer measures support for each option from what
was read, and the loop stops once the margin-based confidence clears the threshold.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict

import numpy as np
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from videonav.agent.actions import LETTERS, Action, ParseFailure, option_index, parse_action, tool_schemas
from videonav.agent.config import RunConfig
from videonav.agent.llm.base import LLM
from videonav.agent.observe import Read, cite, node_read, observe
from videonav.agent.prompts import messages_for
from videonav.agent.result import AskResult, Cost, Span, Step
from videonav.memory.source import TreeSource
from videonav.memory.tree import ROOT
from videonav.tools.embed import Embedder

# Small fixed preferences between action kinds, in units of cosine similarity: descend
# (expand) rather than read lines of a big part when both fit the budget; search only
# when nothing on the frontier looks relevant.
_OPTION_PULL = 0.3
_KIND_BIAS = {"expand": 0.0, "inspect_leaf": 0.0, "inspect_part": -0.05, "search": -0.08}


@dataclass
class Episode:
    """Mutable bookkeeping of one question (lives in the runtime context, not the graph state)."""

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
    pending: Action | ParseFailure | None = None
    pending_raw: str = ""
    pending_tokens: tuple[int, int] = (0, 0)
    planner_answer: Action | None = None
    halted_by: str = ""
    confidence: float = 0.0


@dataclass
class Context:
    source: TreeSource
    episode: Episode


class State(TypedDict):
    round: int
    done: bool


class Planner:
    """``Planner(cfg, llm, embedder, scorer).ask(source, question, options)``."""

    def __init__(self, cfg: RunConfig, llm: LLM | None, embedder: Embedder, scorer: Any | None = None) -> None:
        if llm is None and cfg.planner.prior == "none":
            raise ValueError("planner.prior='none' needs an LLM to choose actions")
        self.cfg = cfg
        self.llm = llm
        self.embedder = embedder
        self.scorer = scorer
        self.tools = tool_schemas()
        self._can_score = True
        g = StateGraph(State, context_schema=Context)
        g.add_node("decide", self._decide)
        g.add_node("act", self._act)
        g.add_node("finish", self._finish)
        g.add_edge(START, "decide")
        g.add_conditional_edges("decide", self._after_decide)
        g.add_conditional_edges("act", self._after_act)
        g.add_edge("finish", END)
        self.graph = g.compile()

    # -- public -----------------------------------------------------------------------
    def ask(self, source: TreeSource, question: str, options: list[str] | None = None) -> AskResult:
        options = list(options or [])
        tree = source.tree
        top = source.ensure([c.id for c in tree.children(ROOT)]) if not tree.is_leaf(ROOT) else [tree.root]
        limit = 600
        msgs = messages_for(question, options, tree.duration, [(n, tree.is_leaf(n.id)) for n in top], limit)
        query = question + " " + " ".join(options)
        ep = Episode(question=question, options=options, query=query, messages=msgs, visible=[n.id for n in top])
        ep.reads.extend(node_read(tree, n) for n in top)
        ep.cost.captions_read = len(top)
        self._update_confidence(ep)
        budget_rounds = self.cfg.budget.max_rounds
        self.graph.invoke({"round": 0, "done": False}, context=Context(source, ep),
                          config={"recursion_limit": 4 * budget_rounds + 10})
        return self._result(source, ep)

    # -- graph nodes ---------------------------------------------------------------------
    def _budget_exhausted(self, ep: Episode, rnd: int) -> str:
        b = self.cfg.budget
        if rnd >= b.max_rounds:
            return "budget:rounds"
        if ep.cost.total_tool_calls >= b.max_tool_calls:
            return "budget:tool_calls"
        if time.perf_counter() - ep.t0 >= b.max_seconds:
            return "budget:seconds"
        if ep.cost.tokens >= b.max_tokens:
            return "budget:tokens"
        if ep.cost.captions_read >= b.max_captions:
            return "budget:captions"
        return ""

    def _decide(self, state: State, runtime: Runtime[Context]) -> dict[str, Any]:
        ep, source = runtime.context.episode, runtime.context.source
        if ep.halted_by:
            return {"done": True}
        why = self._budget_exhausted(ep, state["round"])
        if why:
            ep.halted_by = why
            return {"done": True}
        t = time.perf_counter()
        use_scores = self.cfg.planner.decoding == "constrained" and self._can_score
        if self.llm is None or use_scores:
            cands = self._candidates(ep, source)
            if not cands:
                ep.halted_by = "budget:captions"
                return {"done": True}
            ep.pending_tokens = (0, 0)
            ep.pending = self._choose(ep, cands)
            ep.pending_raw = ep.pending.render()
        if self.llm is not None and not use_scores:
            reply = self.llm.chat(ep.messages, tools=self.tools, max_new_tokens=self.cfg.planner.max_new_tokens,
                                  temperature=self.cfg.planner.temperature)
            ep.pending = parse_action(reply.text, reply.tool_calls)
            ep.pending_raw = reply.text
            ep.pending_tokens = (reply.prompt_tokens, reply.completion_tokens)
        ep.cost.llm_seconds += time.perf_counter() - t
        return {}

    def _after_decide(self, state: State) -> Literal["act", "finish"]:
        return "finish" if state["done"] else "act"

    def _act(self, state: State, runtime: Runtime[Context]) -> dict[str, Any]:
        ep, source = runtime.context.episode, runtime.context.source
        act = ep.pending
        assert act is not None
        rnd = state["round"] + 1
        t = time.perf_counter()
        pt, ct = ep.pending_tokens
        ep.cost.prompt_tokens += pt
        ep.cost.completion_tokens += ct
        ep.cost.rounds = rnd
        if isinstance(act, ParseFailure):
            ep.cost.invalid_actions += 1
            obs = f"Invalid action: {act.error}. Visible nodes: {', '.join(ep.visible[:20])}."
            ep.messages += [{"role": "assistant", "content": ep.pending_raw[:2000]}, {"role": "user", "content": obs}]
            ep.steps.append(Step(round=rnd, action="invalid", raw=ep.pending_raw[:2000], observation=obs, valid=False,
                                 prompt_tokens=pt, completion_tokens=ct, seconds=time.perf_counter() - t))
            return {"round": rnd}
        if act.name == "answer":
            ep.cost.tool_calls["answer"] = ep.cost.tool_calls.get("answer", 0) + 1
            ep.planner_answer = act
            ep.halted_by = "planner"
            ep.messages.append({"role": "assistant", "content": "", "tool_calls": [act.tool_call()]})
            ep.steps.append(Step(round=rnd, action="answer", arguments=act.arguments(), raw=ep.pending_raw[:2000],
                                 prompt_tokens=pt, completion_tokens=ct, seconds=time.perf_counter() - t))
            return {"round": rnd, "done": True}
        obs, new_reads, error = observe(act, ep, source, self.cfg, self.embedder)
        ep.messages.append({"role": "assistant", "content": "", "tool_calls": [act.tool_call()]})
        ep.messages.append({"role": "tool", "name": act.name, "content": obs})
        if error:
            ep.cost.invalid_actions += 1
        else:
            ep.cost.tool_calls[act.name] = ep.cost.tool_calls.get(act.name, 0) + 1
        ep.reads.extend(new_reads)
        ep.cost.captions_read += len(new_reads)
        ep.cost.tool_seconds += time.perf_counter() - t
        self._update_confidence(ep)
        ep.steps.append(Step(round=rnd, action=act.name, arguments=act.arguments(), raw=ep.pending_raw[:2000],
                             observation=obs, valid=not error, reads=len(new_reads), prompt_tokens=pt,
                             completion_tokens=ct, seconds=time.perf_counter() - t, confidence=ep.confidence))
        observations = sum(1 for s in ep.steps if s.valid and s.action in ("expand", "inspect", "search"))
        if (ep.options and self.scorer is not None and ep.confidence >= self.cfg.planner.confidence_threshold
                and observations >= self.cfg.planner.min_reads):
            ep.halted_by = "confident"
            return {"round": rnd, "done": True}
        return {"round": rnd}

    def _after_act(self, state: State) -> Literal["decide", "finish"]:
        return "finish" if state["done"] else "decide"

    def _finish(self, state: State, runtime: Runtime[Context]) -> dict[str, Any]:
        return {"done": True}

    # -- policy -------------------------------------------------------------------------
    def _candidates(self, ep: Episode, source: TreeSource) -> list[tuple[Action, str, float]]:
        """Legal actions that fit the remaining budget, each with its kind and prior."""
        tree = source.tree
        left = self.cfg.budget.max_captions - ep.cost.captions_read
        k_lines = self.cfg.planner.inspect_lines
        out: list[tuple[Action, str, float]] = []
        caps = {nid: tree.node(nid).caption or "" for nid in ep.visible}
        sims = dict(zip(caps, self.prior(ep, list(caps.values())).tolist(), strict=True)) if caps else {}
        # keep enough budget to finish with one close look (inspect) after any expand
        reserve = min(k_lines, self.cfg.planner.reserve_reads) if self.cfg.planner.prior == "embedding" else 0
        for nid in ep.visible:
            leaf = tree.is_leaf(nid)
            if not leaf and nid not in ep.expanded and len(tree.children(nid)) + reserve <= left:
                out.append((Action(name="expand", node_id=nid), "expand", sims[nid]))
            n_lines = len(tree.lines_under(nid)) or 1
            if nid not in ep.inspected and min(k_lines, n_lines, left) >= 1:
                kind = "inspect_leaf" if leaf else "inspect_part"
                out.append((Action(name="inspect", node_id=nid, query=ep.question), kind, sims[nid]))
        if ep.question not in ep.searched and self.cfg.planner.search_k <= left:
            out.append((Action(name="search", query=ep.query), "search", max(sims.values(), default=0.0)))
        if self.cfg.planner.prior == "none":
            out.append((Action(name="answer", answer=self._current_letter(ep), confidence=ep.confidence),
                        "answer", 0.0))
        return out

    def prior(self, ep: Episode, texts: list[str]) -> np.ndarray:
        """Relevance of each text to the question, plus a smaller pull toward any option.

        The question names the event to find; options also name things that happen elsewhere
        in the video (distractors), so they get the smaller weight."""
        if not texts:
            return np.zeros(0)
        t = self.embedder.encode(texts)
        q = self.embedder.encode([ep.question])[0]
        rel = t @ q
        if ep.options:
            rel = (1 - _OPTION_PULL) * rel + _OPTION_PULL * (t @ self.embedder.encode(ep.options).T).max(axis=1)
        return rel

    def _choose(self, ep: Episode, cands: list[tuple[Action, str, float]]) -> Action:
        prior = self.cfg.planner.prior == "embedding"
        total = np.array([(p + _KIND_BIAS.get(kind, 0.0)) * self.cfg.planner.prior_weight if prior else 0.0
                          for _, kind, p in cands], dtype=np.float64)
        top2 = np.sort(total)[-2:] if len(total) > 1 else np.array([0.0, np.inf])
        sure = prior and float(top2[-1] - top2[0]) >= self.cfg.planner.llm_gate
        if self.llm is not None and self._can_score and not sure:
            renders = [a.render() for a, _, _ in cands]
            try:
                total += np.array(self.llm.score_mean(ep.messages, renders, self.tools), dtype=np.float64)
                usage = self.llm.last_usage  # (prompt, scored) tokens, where known
                if usage:
                    ep.pending_tokens = (int(usage[0]), int(usage[1]))
            except NotImplementedError:
                self._can_score = False
        return cands[int(np.argmax(total))][0]

    # -- answering ---------------------------------------------------------------------
    def _scores(self, ep: Episode) -> np.ndarray | None:
        if not ep.options or self.scorer is None:
            return None
        return np.asarray(self.scorer.score(ep.question, ep.options, [r.text for r in ep.reads if r.text]))

    def _update_confidence(self, ep: Episode) -> None:
        s = self._scores(ep)
        if s is not None:
            ep.confidence = float(self.scorer.confidence(s))  # type: ignore[union-attr]

    def _current_letter(self, ep: Episode) -> str:
        s = self._scores(ep)
        return LETTERS[int(np.argmax(s))] if s is not None else "A"

    def _result(self, source: TreeSource, ep: Episode) -> AskResult:
        idx: int | None = None
        answer = ""
        scores = self._scores(ep)
        if ep.options:
            if self.cfg.planner.answer_mode == "planner" and ep.planner_answer is not None:
                idx = option_index(ep.planner_answer.answer or "", ep.options)
            if idx is None and scores is not None:
                idx = int(np.argmax(scores))
            if idx is None:
                idx = 0
            answer = ep.options[idx]
        elif ep.planner_answer is not None:
            answer = ep.planner_answer.answer or ""
        else:
            answer = self._free_answer(ep)
        ep.cost.seconds = time.perf_counter() - ep.t0
        ep.cost.captions_built = source.cost.captions_built
        ep.cost.caption_seconds = source.cost.caption_seconds
        if scores is not None:
            conf = ep.confidence
        else:
            conf = (ep.planner_answer.confidence or 0.0) if ep.planner_answer else 0.0
        return AskResult(question=ep.question, options=ep.options, answer=answer, option_index=idx,
                         confidence=float(conf), halted_by=ep.halted_by or "planner",
                         evidence=self._evidence(ep, answer), visited=[r.span() for r in ep.reads],
                         trace=ep.steps, cost=ep.cost, strategy=self.strategy_name)

    @property
    def strategy_name(self) -> str:
        return "guided" if self.cfg.planner.prior == "embedding" else "navigate"

    def _free_answer(self, ep: Episode) -> str:
        if self.llm is None:
            best = self._evidence(ep, ep.question)
            return best[0].text or "" if best else ""
        ask = "Answer the question now in a few words, from what you read."
        msgs = ep.messages + [{"role": "user", "content": ask}]
        reply = self.llm.chat(msgs, tools=None, max_new_tokens=48)
        ep.cost.prompt_tokens += reply.prompt_tokens
        ep.cost.completion_tokens += reply.completion_tokens
        return reply.text.strip()

    def _evidence(self, ep: Episode, answer: str) -> list[Span]:
        return cite(ep.reads, ep.question, answer, self.embedder)
