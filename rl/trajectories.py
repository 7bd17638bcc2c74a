"""SFT trajectories: teachers navigate the stored trees with the planner's own episode machinery.

Why this shape: a trajectory is only useful if it is exactly what the policy will see at
inference, so a teacher never writes prompts, observations or budgets itself: it drives the
evaluation's own :class:`videonav.agent.episode.Episode` (opening turns from
``Episode.start``, every step through ``Episode.apply``, choices among
``Episode.legal_actions()``), and every assistant turn is an
:class:`videonav.agent.actions.Action` rendered by ``tool_call()``; the teacher only *chooses*
actions. Three teachers:

- :class:`OracleTeacher` knows the answer. It picks the leaf that best supports the correct
  option (embedding similarity of the leaf's lines to question + correct option, restricted to
  leaves overlapping the human evidence spans when NExT-GQA has them), expands the ancestors
  on the way down (while the caption budget allows), inspects that leaf with the question as
  query (the same action the constrained planner scores) and answers with the right letter.
- :class:`ReadsTeacher` knows the answer and the option scorer, and takes the legal action
  whose reads most raise the scorer's probability of the right option.
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
from videonav.agent.episode import Episode
from videonav.agent.evaluation.datasets import Question
from videonav.agent.evaluation.metrics import intersection
from videonav.agent.llm.base import LLM
from videonav.agent.observe import Read, observe
from videonav.agent.prompts import quote
from videonav.agent.scorer_features import evidence_gap
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
    episode: Episode | None = None  # its cost and stop reason, for inspection (not a dataset column)

    def row(self, tools_json: str) -> dict[str, Any]:
        """The dataset row (``messages`` + ``tools`` JSON string + bookkeeping columns)."""
        return {"messages": self.messages, "tools": tools_json, "qid": self.qid, "video": self.video,
                "teacher": self.teacher, "captions_read": len(self.reads), "attempts": self.attempts}


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
        ep = Episode.start(source, q.question, q.options, self.cfg)
        leaf = target_leaf(tree, q, self.embedder)
        path = [a.id for a in reversed(tree.ancestors(leaf)) if a.id != ROOT] + [leaf]
        assert q.truth is not None
        opt = quote(q.options[q.truth], 80)
        look = path[0]  # the deepest node on the path that is visible: inspected when the budget stops descent
        for nid in path:
            if nid not in ep.visible:
                break
            look = nid
            expand = Action(name="expand", node_id=nid)
            if tree.is_leaf(nid) or nid in ep.expanded:
                continue
            if expand not in ep.legal_actions():  # evaluation would not offer it: look closely here instead
                break
            why = f"[{nid}] is the part most likely to show {opt}; opening it." if self.reasoning else ""
            ep.apply(expand, source, self.embedder, content=why)
        inspect = Action(name="inspect", node_id=look, query=q.question)
        if inspect in ep.legal_actions():
            kind = "Clip" if tree.is_leaf(look) else "Part"
            why = f"{kind} [{look}] should show {opt}; looking closely." if self.reasoning else ""
            ep.apply(inspect, source, self.embedder, content=why)
        why = f"The clip supports {opt}." if self.reasoning else ""
        ep.apply(Action(name="answer", answer=LETTERS[q.truth], confidence=0.9), source, self.embedder, content=why)
        return Trajectory(q.qid, q.video, ep.messages, True, ep.reads, self.name, episode=ep)


class ReadsTeacher:
    """Knows the answer and the option scorer; at each turn takes the legal action whose result
    most raises the scorer's probability of the right option (one step of lookahead).

    Why a second oracle: ``videonav eval`` answers with the option scorer from what was read
    and halts when the scorer is confident, so what a navigation policy must learn is *which
    reads make the scorer right*, not the path to the leaf a human would cite. The actions are
    the episode's ``legal_actions()`` (what the constrained ``navigate`` planner scores, answer
    included), the episode halts on the scorer's confidence
    exactly as in eval, and ``answer`` is taken when no read helps and the scorer is already
    right. ``lam`` is the price of one caption read, in probability. Episodes whose final
    scorer choice is wrong are rejected (rejection sampling on the eval's own criterion).
    """

    name = "reads"

    def __init__(self, cfg: RunConfig, embedder: Embedder, scorer: Any, lam: float = 0.005) -> None:
        self.cfg = cfg
        self.embedder = embedder
        self.scorer = scorer
        self.lam = lam

    def _p_truth(self, q: Question, reads: list[Read]) -> tuple[float, int, float]:
        """(P(truth), argmax option, confidence) of the scorer on ``reads``."""
        s = np.asarray(self.scorer.score(q.question, q.options, [r.text for r in reads if r.text]), dtype=float)
        p = np.exp(s - s.max())
        p /= p.sum()
        gap = evidence_gap(q.question, [r.text for r in reads if r.text])
        return float(p[q.truth]), int(np.argmax(s)), float(self.scorer.confidence(s, gap=gap))

    def run(self, tree: CaptionTree, q: Question) -> Trajectory | None:
        assert q.truth is not None
        source = TextTreeSource(tree, self.embedder, self.cfg.planner.inspect_lines)
        ep = Episode.start(source, q.question, q.options, self.cfg)
        pc = self.cfg.planner
        p_now, best_now, ep.confidence = self._p_truth(q, ep.reads)
        for _ in range(self.cfg.budget.max_rounds):
            looks = [a for a in ep.legal_actions() if a.name != "answer"]
            gains = []
            for act in looks:
                trial = ep.fork()
                _, new, err = observe(act, trial, source, self.cfg, self.embedder)
                gain = -1.0 if err else self._p_truth(q, ep.reads + new)[0] - p_now - self.lam * len(new)
                gains.append(gain)
            if not looks or (max(gains) <= 0 and best_now == q.truth):
                ep.apply(Action(name="answer", answer=LETTERS[best_now], confidence=0.9), source, self.embedder)
                break
            ep.apply(looks[int(np.argmax(gains))], source, self.embedder)
            p_now, best_now, ep.confidence = self._p_truth(q, ep.reads)
            if ep.halt_if_confident(pc.confidence_threshold, pc.min_reads):
                break  # eval halts here on the scorer's confidence: no further turn to learn
        if best_now != q.truth:
            return None
        return Trajectory(q.qid, q.video, ep.messages, True, ep.reads, self.name, episode=ep)


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

    def episode(self, tree: CaptionTree, q: Question, hint: str = "") -> tuple[Episode, int | None]:
        """One attempt: the episode and the option its answer names (None when rejected).

        Rejected: an unreadable or refused call (a trajectory must teach legal, well-formed calls
        only), or no answer. Once a budget other than rounds is used up the LLM may still answer,
        as in the GRPO environment; evaluation would answer from the option scorer there."""
        source = TextTreeSource(tree, self.embedder, self.cfg.planner.inspect_lines)
        ep = Episode.start(source, q.question, q.options, self.cfg)
        if hint:
            ep.messages[-1] = {**ep.messages[-1], "content": ep.messages[-1]["content"] + "\n" + hint}
        pc = self.cfg.planner
        for _ in range(self.max_turns):
            over = ep.close_if_exhausted(clock=False)
            if over == "budget:rounds":
                break
            reply = self.llm.chat(ep.messages, tools=self.tools, max_new_tokens=pc.max_new_tokens,
                                  temperature=pc.temperature)
            act = parse_action(reply.text, reply.tool_calls)
            if isinstance(act, ParseFailure) or (over and act.name != "answer"):
                return ep, None
            text = reply.text if "<tool_call>" not in reply.text else reply.text.split("<tool_call>")[0]
            step = ep.apply(act, source, self.embedder, raw=reply.text, content=text.strip(),
                            tokens=(reply.prompt_tokens, reply.completion_tokens))
            if not step.valid:
                return ep, None
            if act.name == "answer":
                return ep, option_index(act.answer or "", q.options)
        ep.close_if_exhausted(clock=False)
        return ep, None

    def run(self, tree: CaptionTree, q: Question) -> Trajectory | None:
        """The first correct attempt (the hint removed from the kept prompt), or None."""
        leaf = target_leaf(tree, q, self.embedder)
        for attempt in range(self.max_attempts):
            hint = hint_for(tree, leaf, attempt - 1) if attempt > 0 else ""
            ep, idx = self.episode(tree, q, hint)
            if idx is not None and idx == q.truth:
                if hint:  # train on the unhinted question: the policy must find the subtree itself
                    first = ep.messages[1]["content"]
                    ep.messages[1] = {**ep.messages[1], "content": first[: -len(hint) - 1]}
                return Trajectory(q.qid, q.video, ep.messages, True, ep.reads, self.name, attempt + 1, ep)
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
