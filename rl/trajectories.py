"""SFT trajectories: teachers navigate the stored trees with the planner's own episode machinery.

Why this shape: a trajectory is only useful if it is exactly what the policy will see at
inference, so a teacher never writes prompts or observations itself. The opening turns come
from :func:`videonav.agent.prompts.messages_for`, every tool result from
:func:`videonav.agent.observe.observe` on a :class:`videonav.agent.planner.Episode`, and every
assistant turn is an :class:`videonav.agent.actions.Action` rendered by ``tool_call()``; the
teacher only *chooses* actions. Two teachers:

- :class:`OracleTeacher` knows the answer. It picks the leaf that best supports the correct
  option (embedding similarity of the leaf's lines to question + correct option, restricted to
  leaves overlapping the human evidence spans when NExT-GQA has them), expands the ancestors
  on the way down, inspects that leaf with the question as query (the same action the
  constrained planner scores) and answers with the right letter.
- :class:`LLMTeacher` wraps any planner LLM (``make_llm`` with ``backend=openai``) and applies
  LongVideo-R1's hint-guided rejection sampling: a wrong final answer is retried with a hint
  naming the subtree that holds the evidence, one level deeper at each retry; only correct
  episodes are kept.

Rows use the ``datasets`` conversational format TRL's SFTTrainer reads: ``messages`` (a
``datasets.Json`` column: tool-call arguments differ per tool, which an Arrow struct would
pad with nulls) and ``tools`` as a JSON string.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from videonav.agent.actions import LETTERS, Action, ParseFailure, option_index, parse_action, tool_schemas
from videonav.agent.config import RunConfig
from videonav.agent.evaluation.datasets import Question
from videonav.agent.evaluation.metrics import intersection
from videonav.agent.llm.base import LLM
from videonav.agent.observe import Read, node_read, observe
from videonav.agent.planner import Episode
from videonav.agent.prompts import messages_for, quote
from videonav.memory.tree import ROOT, CaptionTree
from videonav.tools.embed import Embedder
from videonav.tools.text_source import TextTreeSource


@dataclass
class Trajectory:
    """One finished episode: the conversation plus what it cost and whether it was right."""

    qid: str
    video: str
    messages: list[dict[str, Any]]
    correct: bool
    reads: list[Read]
    teacher: str
    attempts: int = 1

    def row(self, tools_json: str) -> dict[str, Any]:
        """The dataset row (``messages`` + ``tools`` JSON string + bookkeeping columns)."""
        return {"messages": self.messages, "tools": tools_json, "qid": self.qid, "video": self.video,
                "teacher": self.teacher, "captions_read": len(self.reads), "attempts": self.attempts}


def start_episode(tree: CaptionTree, q: Question) -> tuple[Episode, list[Read]]:
    """The opening state exactly as :meth:`Planner.ask` builds it (top-level parts visible)."""
    top = [tree.node(c.id) for c in tree.children(ROOT)] if not tree.is_leaf(ROOT) else [tree.root]
    msgs = messages_for(q.question, q.options, tree.duration, [(n, tree.is_leaf(n.id)) for n in top])
    ep = Episode(question=q.question, options=list(q.options), query=q.question + " " + " ".join(q.options),
                 messages=msgs, visible=[n.id for n in top])
    reads = [node_read(tree, n) for n in top]
    ep.cost.captions_read = len(reads)  # observe() sizes inspect results to the budget left
    return ep, reads


def step(ep: Episode, act: Action, source: TextTreeSource, cfg: RunConfig, embedder: Embedder,
         content: str = "") -> tuple[str, list[Read], bool]:
    """Append one assistant tool call and (unless it is ``answer``) its observed result."""
    ep.messages.append({"role": "assistant", "content": content, "tool_calls": [act.tool_call()]})
    if act.name == "answer":
        return "", [], False
    obs, reads, err = observe(act, ep, source, cfg, embedder)
    ep.messages.append({"role": "tool", "name": act.name, "content": obs})
    ep.cost.captions_read += len(reads)
    return obs, reads, err


def target_leaf(tree: CaptionTree, q: Question, embedder: Embedder) -> str:
    """The leaf whose text best supports the correct option (inside the evidence spans if known)."""
    assert q.truth is not None
    leaves = tree.leaves()
    if q.evidence:
        inside = [lf for lf in leaves if intersection([(lf.start, lf.end)], q.evidence) > 0]
        leaves = inside or leaves
    texts = [" ".join([lf.caption or ""] + [ln.text for ln in tree.lines_under(lf.id)]) for lf in leaves]
    qv = embedder.encode([f"{q.question} {q.options[q.truth]}"])[0]
    sims = embedder.encode(texts) @ qv
    return leaves[int(np.argmax(sims))].id


class OracleTeacher:
    """Descends straight to the supporting leaf, inspects it, answers correctly.

    ``reasoning=True`` puts one templated sentence before each tool call (why this node); it
    is off for policies evaluated with constrained decoding, which scores bare tool calls.
    """

    name = "oracle"

    def __init__(self, cfg: RunConfig, embedder: Embedder, reasoning: bool = True) -> None:
        self.cfg = cfg
        self.embedder = embedder
        self.reasoning = reasoning

    def run(self, tree: CaptionTree, q: Question) -> Trajectory:
        source = TextTreeSource(tree, self.embedder, self.cfg.planner.inspect_lines)
        ep, reads = start_episode(tree, q)
        leaf = target_leaf(tree, q, self.embedder)
        path = [a.id for a in reversed(tree.ancestors(leaf)) if a.id != ROOT] + [leaf]
        assert q.truth is not None
        opt = quote(q.options[q.truth], 80)
        for nid in path:
            if nid in ep.visible and not tree.is_leaf(nid) and nid not in ep.expanded:
                why = f"[{nid}] is the part most likely to show {opt}; opening it." if self.reasoning else ""
                _, r, _ = step(ep, Action(name="expand", node_id=nid), source, self.cfg, self.embedder, why)
                reads += r
        why = f"Clip [{leaf}] should show {opt}; looking closely." if self.reasoning else ""
        _, r, _ = step(ep, Action(name="inspect", node_id=leaf, query=q.question), source, self.cfg,
                       self.embedder, why)
        reads += r
        why = f"The clip supports {opt}." if self.reasoning else ""
        step(ep, Action(name="answer", answer=LETTERS[q.truth], confidence=0.9), source, self.cfg,
             self.embedder, why)
        return Trajectory(q.qid, q.video, ep.messages, True, reads, self.name)


class ReadsTeacher:
    """Knows the answer and the option scorer; at each turn takes the legal action whose result
    most raises the scorer's probability of the right option (one step of lookahead).

    Why a second oracle: ``videonav eval`` answers with the option scorer from what was read
    and halts when the scorer is confident, so what a navigation policy must learn is *which
    reads make the scorer right*, not the path to the leaf a human would cite. The actions are
    the constrained planner's own candidates (``Planner._candidates`` with ``prior=none``, the
    ``navigate`` configuration, answer included), the episode halts on the scorer's confidence
    exactly as in eval, and ``answer`` is taken when no read helps and the scorer is already
    right. ``lam`` is the price of one caption read, in probability. Episodes whose final
    scorer choice is wrong are rejected (rejection sampling on the eval's own criterion).
    """

    name = "reads"

    def __init__(self, cfg: RunConfig, embedder: Embedder, scorer: Any, lam: float = 0.005) -> None:
        from videonav.agent.llm.base import ScriptedLLM
        from videonav.agent.planner import Planner

        pcfg = cfg.planner.model_copy(update={"prior": "none"})
        self.cfg = cfg.model_copy(update={"planner": pcfg})
        self.embedder = embedder
        self.scorer = scorer
        self.lam = lam
        self._planner = Planner(self.cfg, ScriptedLLM(), embedder, scorer)  # only its candidates are used

    def _p_truth(self, q: Question, reads: list[Read]) -> tuple[float, int, float]:
        """(P(truth), argmax option, confidence) of the scorer on ``reads``."""
        s = np.asarray(self.scorer.score(q.question, q.options, [r.text for r in reads if r.text]), dtype=float)
        p = np.exp(s - s.max())
        p /= p.sum()
        return float(p[q.truth]), int(np.argmax(s)), float(self.scorer.confidence(s))

    def run(self, tree: CaptionTree, q: Question) -> Trajectory | None:
        import copy

        assert q.truth is not None
        source = TextTreeSource(tree, self.embedder, self.cfg.planner.inspect_lines)
        ep, reads = start_episode(tree, q)
        pc = self.cfg.planner
        p_now, best_now, _ = self._p_truth(q, reads)
        for rnd in range(self.cfg.budget.max_rounds):
            cands = [a for a, _, _ in self._planner._candidates(ep, source)]
            looks = [a for a in cands if a.name != "answer"]
            gains = []
            for act in looks:
                trial = copy.deepcopy(ep)
                _, new, err = observe(act, trial, source, self.cfg, self.embedder)
                gain = -1.0 if err else self._p_truth(q, reads + new)[0] - p_now - self.lam * len(new)
                gains.append(gain)
            if not looks or (max(gains) <= 0 and best_now == q.truth):
                step(ep, Action(name="answer", answer=LETTERS[best_now], confidence=0.9), source, self.cfg,
                     self.embedder)
                break
            _, new, _ = step(ep, looks[int(np.argmax(gains))], source, self.cfg, self.embedder)
            reads += new
            p_now, best_now, conf = self._p_truth(q, reads)
            if conf >= pc.confidence_threshold and rnd + 1 >= pc.min_reads:
                break  # eval halts here on the scorer's confidence: no further turn to learn
        if best_now != q.truth:
            return None
        return Trajectory(q.qid, q.video, ep.messages, True, reads, self.name)


def hint_for(tree: CaptionTree, leaf: str, depth: int) -> str:
    """LongVideo-R1-style hint: the ancestor of the evidence leaf ``depth`` levels below the root."""
    chain = [a.id for a in reversed(tree.ancestors(leaf)) if a.id != ROOT] + [leaf]
    nid = chain[min(depth, len(chain) - 1)]
    return f"Hint: the evidence is inside [{nid}]. Look there before answering."


class LLMTeacher:
    """Any planner LLM, with hint-guided rejection sampling (wrong -> retry with a deeper hint)."""

    name = "llm"

    def __init__(self, cfg: RunConfig, llm: LLM, embedder: Embedder, max_attempts: int = 3,
                 max_turns: int | None = None) -> None:
        self.cfg = cfg
        self.llm = llm
        self.embedder = embedder
        self.max_attempts = max_attempts
        self.max_turns = max_turns or cfg.budget.max_rounds
        self.tools = tool_schemas()

    def _episode(self, tree: CaptionTree, q: Question, hint: str) -> tuple[Episode, list[Read], int | None]:
        source = TextTreeSource(tree, self.embedder, self.cfg.planner.inspect_lines)
        ep, reads = start_episode(tree, q)
        if hint:
            ep.messages[-1] = {**ep.messages[-1], "content": ep.messages[-1]["content"] + "\n" + hint}
        for _ in range(self.max_turns):
            pc = self.cfg.planner
            reply = self.llm.chat(ep.messages, tools=self.tools, max_new_tokens=pc.max_new_tokens,
                                  temperature=pc.temperature)
            act = parse_action(reply.text, reply.tool_calls)
            if isinstance(act, ParseFailure):  # rejected: a trajectory must teach well-formed calls only
                return ep, reads, None
            text = reply.text if "<tool_call>" not in reply.text else reply.text.split("<tool_call>")[0]
            _, r, err = step(ep, act, source, self.cfg, self.embedder, text.strip())
            if err:
                return ep, reads, None
            reads += r
            if act.name == "answer":
                return ep, reads, option_index(act.answer or "", q.options)
        return ep, reads, None

    def run(self, tree: CaptionTree, q: Question) -> Trajectory | None:
        """The first correct attempt (the hint removed from the kept prompt), or None."""
        leaf = target_leaf(tree, q, self.embedder)
        for attempt in range(self.max_attempts):
            hint = hint_for(tree, leaf, attempt - 1) if attempt > 0 else ""
            ep, reads, idx = self._episode(tree, q, hint)
            if idx is not None and idx == q.truth:
                if hint:  # train on the unhinted question: the policy must find the subtree itself
                    first = ep.messages[1]["content"]
                    ep.messages[1] = {**ep.messages[1], "content": first[: -len(hint) - 1]}
                return Trajectory(q.qid, q.video, ep.messages, True, reads, self.name, attempt + 1)
        return None


def build_rows(questions: Iterable[Question], tree_of: Callable[[str], CaptionTree],
               teacher: OracleTeacher | LLMTeacher | ReadsTeacher,
               progress: Callable[[int, str], None] | None = None) -> list[dict[str, Any]]:
    """Dataset rows for every question the teacher solves (the oracle solves all)."""
    tools_json = json.dumps(tool_schemas())
    rows: list[dict[str, Any]] = []
    for i, q in enumerate(questions):
        if q.truth is None or not q.options:
            continue
        traj = teacher.run(tree_of(q.video), q)
        if traj is not None:
            rows.append(traj.row(tools_json))
        if progress:
            progress(i + 1, q.qid)
    return rows


def to_dataset(rows: list[dict[str, Any]]) -> Any:
    """A ``datasets.Dataset`` whose ``messages`` column keeps each tool call's own arguments."""
    from datasets import Dataset, Features, Json, Value

    feats = Features({"messages": Json(), "tools": Value("string"), "qid": Value("string"),
                      "video": Value("string"), "teacher": Value("string"), "captions_read": Value("int64"),
                      "attempts": Value("int64")})
    return Dataset.from_list(rows, features=feats)
