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
The bookkeeping (opening state, legal actions, budgets, reads, cost) is the
:class:`videonav.agent.episode.Episode` that SFT teachers and the GRPO environment drive too;
the planner only chooses actions and answers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal, TypedDict

import numpy as np
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from videonav.agent.actions import LETTERS, Action, ParseFailure, option_index, parse_action, tool_schemas
from videonav.agent.config import RunConfig
from videonav.agent.episode import Episode
from videonav.agent.extract import LARGE_BACKENDS, Extracted, extract, free_answer
from videonav.agent.llm.base import LLM
from videonav.agent.observe import Read, cite
from videonav.agent.result import AskResult, Span
from videonav.agent.scorer import answer_scores
from videonav.agent.scorer_features import unread_phrases, whole_video
from videonav.agent.time_anchor import named_question, overlap, tree_window, within
from videonav.memory.source import TreeSource
from videonav.tools.embed import Embedder
from videonav.tools.speech.choose import spoken_reads

# Small fixed preferences between action kinds, in units of cosine similarity: descend
# (expand) rather than read lines of a big part when both fit the budget; search only
# when nothing on the frontier looks relevant.
_OPTION_PULL = 0.3
_KIND_BIAS = {"expand": 0.0, "inspect_leaf": 0.0, "inspect_part": -0.05, "search": -0.08}
# ... except when the question names something exact (a title, a number, a colour) that nothing
# read so far says: then the clips' lexical search is the way to it, not similarity (Planner._lookup)
_LOOKUP_PULL = 0.1


@dataclass
class Context:
    """What one ``ask`` threads through the graph: the source, its episode, the pending turn."""

    source: TreeSource
    episode: Episode
    pending: Action | ParseFailure | None = None
    pending_raw: str = ""
    pending_tokens: tuple[int, int] = (0, 0)


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
        self._memo: tuple[Episode, int, tuple[np.ndarray, float]] | None = None
        self._anchor_memo: tuple[Episode, int, tuple[Any, str, list[Read]]] | None = None
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
        built0, secs0 = source.cost.captions_built, source.cost.caption_seconds  # a source's totals span questions
        ep = Episode.start(source, question, options, self.cfg)
        self._update_confidence(ep)
        budget_rounds = self.cfg.budget.max_rounds
        self.graph.invoke({"round": 0, "done": False}, context=Context(source, ep),
                          config={"recursion_limit": 4 * budget_rounds + 10})
        res = self._result(source, ep)
        res.cost.captions_built -= built0
        res.cost.caption_seconds -= secs0
        return res

    # -- graph nodes ---------------------------------------------------------------------
    def _decide(self, state: State, runtime: Runtime[Context]) -> dict[str, Any]:
        ctx = runtime.context
        ep = ctx.episode
        if ep.close_if_exhausted():
            return {"done": True}
        t = time.perf_counter()
        use_scores = self.cfg.planner.decoding == "constrained" and self._can_score
        if self.llm is None or use_scores:
            cands = self._candidates(ep, ctx.source)
            if not cands:
                ep.halted_by = ep.budget_exhausted() or "budget:captions"
                return {"done": True}
            ctx.pending_tokens = (0, 0)
            ctx.pending = self._choose(ctx, cands)
            ctx.pending_raw = ctx.pending.render()
        if self.llm is not None and not use_scores:
            reply = self.llm.chat(ep.messages, tools=self.tools, max_new_tokens=self.cfg.planner.max_new_tokens,
                                  temperature=self.cfg.planner.temperature)
            ctx.pending = parse_action(reply.text, reply.tool_calls)
            ctx.pending_raw = reply.text
            ctx.pending_tokens = (reply.prompt_tokens, reply.completion_tokens)
        ep.cost.llm_seconds += time.perf_counter() - t
        return {}

    def _after_decide(self, state: State) -> Literal["act", "finish"]:
        return "finish" if state["done"] else "act"

    def _act(self, state: State, runtime: Runtime[Context]) -> dict[str, Any]:
        ctx = runtime.context
        ep, act = ctx.episode, ctx.pending
        assert act is not None
        t = time.perf_counter()
        step = ep.apply(act, ctx.source, self.embedder, raw=ctx.pending_raw, tokens=ctx.pending_tokens)
        rnd = ep.cost.rounds
        if step.action in ("invalid", "answer"):
            return {"round": rnd, "done": step.action == "answer"}
        self._update_confidence(ep)
        step.confidence = ep.confidence
        step.seconds = time.perf_counter() - t
        threshold = self.cfg.planner.confidence_threshold if ep.options else self.cfg.planner.free_text_threshold
        if (not ep.options or self.scorer is not None) and ep.halt_if_confident(threshold,
                                                                            self.cfg.planner.min_reads):
            return {"round": rnd, "done": True}
        return {"round": rnd}

    def _after_act(self, state: State) -> Literal["decide", "finish"]:
        return "finish" if state["done"] else "decide"

    def _finish(self, state: State, runtime: Runtime[Context]) -> dict[str, Any]:
        return {"done": True}

    # -- policy -------------------------------------------------------------------------
    def _candidates(self, ep: Episode, source: TreeSource | None = None) -> list[tuple[Action, str, float]]:
        """The episode's legal actions this policy considers, each with its kind and prior.

        Guided keeps enough budget to finish with one close look (inspect) after any expand;
        only the LLM-alone policy (``prior="none"``) may choose to answer, naming the option
        the scorer currently prefers."""
        tree = ep.tree
        left = ep.captions_left
        caps = {nid: tree.node(nid).caption or "" for nid in ep.visible}
        sims = dict(zip(caps, self.prior(ep, list(caps.values())).tolist(), strict=True)) if caps else {}
        guided = self.cfg.planner.prior == "embedding"
        if guided and ep.options and whole_video(ep.question):  # read the whole video evenly: level by level
            sims = {nid: -0.1 * tree.node(nid).level for nid in caps}
        win = self._anchor(ep)[0] if guided else None
        if win is not None:  # "at 07:00", "in the last chapter": go where the question points
            sims = {nid: v + self.cfg.planner.time_pull * overlap((tree.node(nid).start, tree.node(nid).end), win)
                    for nid, v in sims.items()}
        reserve = min(self.cfg.planner.inspect_lines, self.cfg.planner.reserve_reads) if guided else 0
        out: list[tuple[Action, str, float]] = []
        for act in ep.legal_actions():
            nid = act.node_id or ""
            if act.name == "expand":
                node = tree.node(nid)
                # inside the time asked about, the children are the close look: no reserve
                need = 0 if win is not None and overlap((node.start, node.end), win) > 0 else reserve
                if len(tree.children(nid)) + need <= left:
                    out.append((act, "expand", sims[nid]))
            elif act.name == "inspect":
                out.append((act, "inspect_leaf" if tree.is_leaf(nid) else "inspect_part", sims[nid]))
            elif act.name == "search":
                if guided and ep.searched:  # a lookup was this question's one search
                    continue
                # a question naming a time ("at 07:00") is led there by the time pull, not a lookup
                look = self._lookup(ep, source) if guided and win is None else None
                if look:  # the question alone: options name things shown elsewhere (distractors)
                    act = Action(name="search", query=look)
                out.append((act, "search", max(sims.values(), default=0.0) + (_LOOKUP_PULL if look else 0.0)))
            elif not guided:
                out.append((Action(name="answer", answer=self._current_letter(ep), confidence=ep.confidence),
                            "answer", 0.0))
        return out

    def _lookup(self, ep: Episode, source: TreeSource | None) -> str | None:
        """What to search for before descending, or None: the question, once, when it names an
        exact phrase (a quoted title, a number, a name, a colour as that thing's colour: "the
        white slide") that no read holds, the source has the stored clips' search (a video's
        tree; text trees keep their in-memory search and their old policy, as
        ``tools.search.source_search`` keeps their benchmarks) and every clip has a caption.
        (The phrase alone, "bridges 1", found the slide less often than the question around it.)

        Why: part captions cannot name every 20-s slide of a 5-minute part, so descending by
        similarity to find "the pink slide" is a guess among the parts; the clips' search finds the
        words themselves. A lazy tree's uncaptioned clips are not searchable: there the parts lead."""
        if getattr(source, "store", None) is None or not isinstance(getattr(source, "key", None), str):
            return None
        missing, _ = unread_phrases(ep.question, [r.text for r in ep.reads])
        if not missing or not all(lf.caption for lf in ep.tree.leaves()):
            return None
        return ep.question

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

    def _choose(self, ctx: Context, cands: list[tuple[Action, str, float]]) -> Action:
        ep = ctx.episode
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
                    ctx.pending_tokens = (int(usage[0]), int(usage[1]))
            except NotImplementedError:
                self._can_score = False
        return cands[int(np.argmax(total))][0]

    # -- answering ---------------------------------------------------------------------
    def _scored(self, ep: Episode) -> tuple[np.ndarray, float] | None:
        """Scores and confidence of what the episode has read, computed once per set of reads
        (the halting check, the forced answer and the result all ask for them)."""
        if not ep.options or self.scorer is None:
            return None
        if self._memo is None or self._memo[0] is not ep or self._memo[1] != len(ep.reads):
            got = answer_scores(self.scorer, ep.question, ep.options, ep.reads, self.embedder,
                                self.cfg.planner.reader_weight)
            self._memo = (ep, len(ep.reads), got)
        return self._memo[2]

    def _scores(self, ep: Episode) -> np.ndarray | None:
        got = self._scored(ep)
        return None if got is None else got[0]

    def _update_confidence(self, ep: Episode) -> None:
        got = self._scored(ep)
        if got is not None:
            ep.confidence = got[1]
        elif not ep.options:  # free text halts on the extractive reader's confidence, as options do on the scorer's
            _, question, reads = self._anchor(ep)
            ep.confidence = float(extract(question, reads, self.embedder).confidence)

    def _anchor(self, ep: Episode) -> tuple[tuple[float, float] | None, str, list[Read]]:
        """The time the question names (agent/time_anchor.py), the question as the free-text reader
        reads it ("in the eighth chapter" named by its heading) and the reads inside that time;
        computed once per set of reads (the prior, the halting check and the answer all ask)."""
        memo = self._anchor_memo
        if memo is None or memo[0] is not ep or memo[1] != len(ep.reads):
            win = tree_window(ep.question, ep.tree)
            memo = self._anchor_memo = (ep, len(ep.reads), (win, named_question(ep.question, ep.tree),
                                                           within(ep.reads, win)))
        return memo[2]

    def _current_letter(self, ep: Episode) -> str:
        s = self._scores(ep)
        return LETTERS[int(np.argmax(s))] if s is not None else "A"

    def _result(self, source: TreeSource, ep: Episode) -> AskResult:
        idx: int | None = None
        answer = ""
        if ep.options:  # a question about speech, a video without subtitles: the options heard in its audio
            ep.reads.extend(Read(t, a, b, kind="speech") for a, b, t in spoken_reads(
                source, ep.question, ep.options, [(r.start, r.end) for r in ep.reads if r.kind != "summary"]))
        scores = self._scores(ep)
        free: Extracted | None = None
        if ep.options:
            if self.cfg.planner.answer_mode == "planner" and ep.answer is not None:
                idx = option_index(ep.answer.answer or "", ep.options)
            if idx is None and scores is not None:
                idx = int(np.argmax(scores))
            if idx is None:
                idx = 0
            answer = ep.options[idx]
        else:  # free text (agent/extract.py): extractive, or a generated answer the reads support
            free = self._free_answer(ep)
            answer = free.text
        ep.cost.seconds = time.perf_counter() - ep.t0
        ep.cost.captions_built = source.cost.captions_built
        ep.cost.caption_seconds = source.cost.caption_seconds
        if scores is not None:
            conf = ep.confidence
        elif free is not None:
            conf = free.confidence
        else:
            conf = (ep.answer.confidence or 0.0) if ep.answer else 0.0
        return AskResult(question=ep.question, options=ep.options, answer=answer, option_index=idx,
                         confidence=float(conf), halted_by=ep.halted_by or "planner",
                         evidence=free.evidence(ep.reads, self._evidence(ep, answer)) if free
                         else self._evidence(ep, answer),
                         visited=[r.span() for r in ep.reads],
                         trace=ep.steps, cost=ep.cost, strategy=self.strategy_name)

    @property
    def strategy_name(self) -> str:
        return "guided" if self.cfg.planner.prior == "embedding" else "navigate"

    def _free_answer(self, ep: Episode) -> Extracted:
        """The extractive span of what was read; the planner's own answer, or a large backend's
        (which must cite node ids), is shown only when the reads support it (agent/extract.py)."""
        t = time.perf_counter()
        large = self.llm is not None and self.cfg.planner.backend in LARGE_BACKENDS
        generated = ep.answer.answer if ep.answer is not None else None
        _, question, reads = self._anchor(ep)
        free = free_answer(question, reads, self.embedder, self.llm if large else None, generated)
        ep.cost.prompt_tokens += free.prompt_tokens
        ep.cost.completion_tokens += free.completion_tokens
        ep.cost.llm_seconds += time.perf_counter() - t if free.prompt_tokens else 0.0
        return free

    def _evidence(self, ep: Episode, answer: str) -> list[Span]:
        return cite(ep.reads, ep.question, answer, self.embedder)
