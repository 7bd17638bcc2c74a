"""Free-text answers: extractive spans of what was read, generated answers only when supported."""

from __future__ import annotations

import json

import pytest
from scripted import ScriptedLLM

from videonav.agent.config import load_config
from videonav.agent.extract import NOT_FOUND, extract, free_answer, normalise, strip_template
from videonav.agent.observe import Read
from videonav.agent.planner import Planner
from videonav.agent.strategies import run_strategy
from videonav.memory.tree import TimedText
from videonav.tools.embed import ExtractiveSummariser, HashingEmbedder
from videonav.tools.text_source import TextTreeSource

EMB = HashingEmbedder()
READS = [
    Read('On-screen text: "INSECTS 1 | NUMBER 8639" on white. Speech: "Here is part of our look at insects.". '
         "Scene: 1 shot, low motion, bright, mostly white.", 29, 46, "1.1.3"),
    Read('On-screen text: "INSECTS 2 | NUMBER 2337" on dark blue. Speech: "Here is part of our look at insects. '
         'Remember the secret word: falcon.". Scene: 1 shot, dark, mostly dark blue.', 46, 70, "1.1.4"),
    Read('On-screen text: "INSECTS 3 | CITY KYIV" on dark green. Speech: "Here is part of our look at insects. '
         'Our reporter is speaking from Kyiv today.".', 70, 100, "1.2.1"),
    Read('On-screen text: "BRIDGES 1 | NUMBER 5292" on yellow. Speech: "Here is part of our look at bridges. '
         'Remember the secret word: harbor.".', 112, 140, "1.2.3"),
    Read("A summary of the first half: insects and bridges.", 0, 600, "1", "summary"),
]


@pytest.mark.parametrize("question,answer,node", [
    ("Which city is the reporter speaking from?", "Kyiv", "1.2.1"),
    ("Which city was named on the slide titled 'INSECTS 3'?", "KYIV", "1.2.1"),
    ("What number was shown on the white slide?", "8639", "1.1.3"),
    ("What number was shown on the yellow slide?", "5292", "1.2.3"),
    ("What secret word did the narrator say during the chapter on Bridges?", "harbor", "1.2.3"),
    ("What secret word did the narrator say during the chapter on Insects?", "falcon", "1.1.4"),
    ("In which chapter was the number 5292 shown?", "BRIDGES", "1.2.3"),
])
def test_extracts_the_shortest_answering_span_with_its_node(question: str, answer: str, node: str) -> None:
    ext = extract(question, READS, EMB)
    assert normalise(ext.text) == normalise(answer)
    assert ext.read is not None and ext.read.node_id == node and ext.cited == [node]
    assert ext.found and ext.confidence > 0.2
    span = ext.evidence(READS)[0]
    assert (span.node_id, span.start, span.end) == (node, ext.read.start, ext.read.end)


def test_from_a_spoken_sentence_the_city_not_the_sentence() -> None:
    reads = [Read('Speech: "Our reporter is speaking from Kyiv today."', 10, 14, "2.1")]
    ext = extract("Which city is the reporter speaking from?", reads, EMB)
    assert ext.text == "Kyiv" and ext.source == "Our reporter is speaking from Kyiv today."


def test_nothing_relevant_read_says_not_found_with_low_confidence() -> None:
    reads = [Read("A man rides a bike along the river.", 0, 5, "1"), Read("Two dogs play in the park.", 5, 9, "2")]
    ext = extract("Which city is the reporter speaking from?", reads, EMB)
    assert ext.text == NOT_FOUND and not ext.found and ext.confidence < 0.1 and ext.read is None
    assert extract("What number was shown?", [], EMB).text == NOT_FOUND


def test_margin_sets_confidence() -> None:
    sure = extract("What number was shown on the white slide?", READS, EMB).confidence
    # two white slides with different numbers: the reader cannot tell them apart
    twin = [*READS, Read('On-screen text: "INSECTS 9 | NUMBER 4410" on white.', 200, 220, "1.3.1")]
    assert extract("What number was shown on the white slide?", twin, EMB).confidence < sure / 2


@pytest.mark.parametrize("raw,shown", [
    ('The answer to the question is: "On-screen text: "CITY KYIV', "CITY KYIV"),
    ("The answer to the question is:", ""),
    ("Answer: Kyiv.", "Kyiv"),
    ("<answer>The final answer is Kyiv</answer> <nodes>1.2.1</nodes>", "Kyiv"),
])
def test_template_prefixes_are_stripped(raw: str, shown: str) -> None:
    assert strip_template(raw) == shown


def test_template_prefix_is_never_shown() -> None:
    q = "Which city is the reporter speaking from?"
    for raw in ["The answer to the question is:", 'The answer to the question is: "On-screen text: "CITY KYIV']:
        res = free_answer(q, READS, EMB, generated=raw)
        assert "answer to the question" not in res.text.lower() and "kyiv" in res.text.lower()


def test_unsupported_generated_answer_is_replaced_by_the_extractive_one() -> None:
    q = "Which city is the reporter speaking from?"
    res = free_answer(q, READS, EMB, generated="The reporter is in Paris.")
    assert res.text.lower() == "kyiv" and res.how == "extractive" and res.generated == "The reporter is in Paris."
    nothing = [Read("A man rides a bike.", 0, 5, "1")]
    res = free_answer(q, nothing, EMB, generated="Paris")
    assert res.text == NOT_FOUND and res.confidence < 0.1


def test_large_backend_phrases_freely_but_its_evidence_names_the_source_node() -> None:
    q = "Which city is the reporter speaking from?"
    llm = ScriptedLLM(["<answer>The reporter speaks from Kyiv.</answer> <nodes>1.2.1</nodes>"])
    res = free_answer(q, READS, EMB, llm=llm)
    assert res.how == "generated" and res.text == "The reporter speaks from Kyiv"
    assert "1.2.1" in res.cited and res.evidence(READS)[0].node_id == "1.2.1"
    prompt = llm.calls[0][0]["content"]
    assert "[1.2.1]" in prompt and "node ids" in prompt
    # a wrong citation is not trusted: the evidence is the read the answer's words came from
    llm = ScriptedLLM(["<answer>Kyiv</answer> <nodes>1.1.3</nodes>"])
    res = free_answer(q, READS, EMB, llm=llm)
    assert res.evidence(READS)[0].node_id == "1.2.1"


def _tree_source() -> TextTreeSource:
    from videonav.tools.text_source import text_tree

    lines = [TimedText(start=float(i), end=i + 1.0, text=t) for i, t in enumerate([
        "A man walks into a kitchen.", "He opens the fridge.", 'On-screen text: "PASTA 2 | NUMBER 4821" on red.',
        "He boils water in a pot.", "Our reporter is speaking from Lima today.", "The man eats at a table.",
        "A dog sleeps on the sofa.", "The dog wakes up and barks."])]
    cfg = load_config(overrides=["tree.leaf_seconds=2"])
    tree = text_tree("toy", lines, cfg.tree, EMB, None, ExtractiveSummariser(EMB, 2))
    return TextTreeSource(tree, EMB, 3)


@pytest.mark.parametrize("strategy", ["all-captions", "search-k", "guided"])
def test_strategies_answer_free_text_extractively_with_the_answers_node(strategy: str) -> None:
    cfg = load_config(overrides=["planner.backend=none"])
    src = _tree_source()
    res = run_strategy(strategy, src, "Which city is the reporter speaking from?", [], cfg, None, EMB, None, k=4)
    assert res.answer == "Lima" and res.confidence > 0.2
    first = res.evidence[0]
    assert "Lima" in (first.text or "") and first.start <= 4.0 < first.end


def test_planner_answer_action_shown_only_when_supported() -> None:
    def call(name: str, **args: object) -> str:
        return "<tool_call>" + json.dumps({"name": name, "arguments": args}) + "</tool_call>"

    over = ["planner.decoding=tools", "planner.prior=none", "budget.max_captions=40"]
    cfg = load_config(overrides=over)
    q = "What number was shown on the red slide?"
    for said, shown in [("It was 9999, I think", "4821"), ("4821", "4821")]:
        llm = ScriptedLLM([call("search", query="red slide number"), call("answer", answer=said, confidence=0.9)])
        res = Planner(cfg, llm, EMB, None).ask(_tree_source(), q, [])
        assert res.answer == shown and res.evidence and "4821" in (res.evidence[0].text or "")


def test_free_text_halts_once_the_reader_is_confident() -> None:
    """Without options the planner stops on the extractive reader's confidence, not at the budget."""
    def call(name: str, **args: object) -> str:
        return "<tool_call>" + json.dumps({"name": name, "arguments": args}) + "</tool_call>"

    q = "What number was shown on the red slide?"
    script = [call("search", query="red slide number")] + [call("search", query=f"more {i}") for i in range(6)]
    over = ["planner.decoding=tools", "planner.prior=none", "budget.max_captions=40", "budget.max_rounds=8",
            "planner.min_reads=1"]
    res = Planner(load_config(overrides=over), ScriptedLLM(script), EMB, None).ask(_tree_source(), q, [])
    assert res.answer == "4821"
    assert res.halted_by == "confident" and res.cost.rounds == 1
    unanswerable = "Which animal did the narrator mention at the zoo?"  # nothing read answers it: no early stop
    res = Planner(load_config(overrides=over), ScriptedLLM(script), EMB, None).ask(_tree_source(), unanswerable, [])
    assert res.halted_by != "confident" and res.cost.rounds > 1
