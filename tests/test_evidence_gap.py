"""Answers follow the evidence: a summary that names the right kind of thing (a city) for the
wrong slide must not end the search; the extractive reader's answer counts for multiple choice;
chapter headings survive into part summaries in time order."""

from __future__ import annotations

import copy

import numpy as np

from videonav.agent.config import load_config
from videonav.agent.extract import reader_vote
from videonav.agent.observe import Read
from videonav.agent.planner import Planner
from videonav.agent.scorer import OptionScorer, load_weights
from videonav.agent.scorer_features import evidence_gap
from videonav.memory.tree import CaptionTree, Node
from videonav.tools.digest import digest
from videonav.tools.embed import HashingEmbedder
from videonav.tools.text_source import TextTreeSource

EMB = HashingEmbedder(dim=512)
Q = "Which city was named on the slide titled 'SPACE TRAVEL 1'?"
OPTIONS = ["PRAGUE", "LIMA", "PERTH", "HANOI", "RIGA"]


def slides_tree() -> CaptionTree:
    """Part summaries that mention Hanoi (spoken elsewhere); the slide itself is one leaf down."""
    leaves = {
        "1.1": 'On-screen text: "CHAPTER 1 | SPACE TRAVEL" on dark blue. Speech: "Our reporter is speaking '
               'from Hanoi today.".',
        "1.2": 'On-screen text: "SPACE TRAVEL 1 | CITY LIMA" on dark green.',
        "2.1": 'On-screen text: "SPACE TRAVEL 5 | NUMBER 7158" on purple.',
        "2.2": 'On-screen text: "SPACE TRAVEL 6 | NUMBER 1234" on red.',
    }
    t = CaptionTree("toy", 40.0)
    t.add(Node(id="root", start=0, end=40, level=0, caption='On-screen text: "CHAPTER 1 | SPACE TRAVEL" on dark '
               'blue; "SPACE TRAVEL 5 | NUMBER 7158" on purple. Speech: "Our reporter is speaking from Hanoi today.".'))
    t.add(Node(id="1", start=0, end=20, level=1, caption=leaves["1.1"]))
    t.add(Node(id="2", start=20, end=40, level=1, caption=leaves["2.1"] + " " + leaves["2.2"]))
    for i, (nid, cap) in enumerate(leaves.items()):
        t.add(Node(id=nid, start=10.0 * i, end=10.0 * (i + 1), level=2, caption=cap))
    return t


def planner(weights: dict) -> Planner:
    cfg = load_config(overrides=["planner.backend=none", "budget.max_captions=12"])
    return Planner(cfg, None, EMB, OptionScorer(EMB, weights=weights))


def test_gap_is_what_the_question_names_exactly_but_no_read_holds():
    assert evidence_gap(Q, ["Our reporter is speaking from Hanoi today."]) == 1.0
    assert evidence_gap(Q, ["nothing", '"SPACE TRAVEL 1 | CITY LIMA"']) == 0.0
    assert evidence_gap("what does the dog catch", ["a dog"]) == 0.0  # nothing exact asked: no gap


def test_fitted_weights_lower_confidence_when_the_named_slide_was_not_read():
    w = load_weights()
    assert w.get("calib_gap", 0.0) < 0
    s = OptionScorer(EMB, weights=w)
    scores = np.array([0.0, 0.2, 0.0, 2.0, 0.0])
    assert s.confidence(scores, gap=1.0) < s.confidence(scores, gap=0.0)


def confident_weights(gap_term: bool) -> dict:
    """The fitted weights made over-confident from the margin alone (+3 logits): what a summary
    naming one of the options does to a scorer; only the gap term can then keep it reading."""
    w = copy.deepcopy(load_weights())
    w["calib"] = [w["calib"][0], w["calib"][1] + 3.0]
    if not gap_term:
        w["calib_gap"] = 0.0
    return w


def test_planner_keeps_reading_until_the_named_slide_and_answers_from_it():
    res = planner(confident_weights(True)).ask(TextTreeSource(slides_tree(), EMB), Q, OPTIONS)
    assert res.answer == "LIMA", (res.answer, [s.arguments for s in res.trace])
    assert any("SPACE TRAVEL 1" in (s.text or "") for s in res.evidence)


def test_without_the_gap_term_a_summary_ends_the_search_on_a_wrong_city():
    res = planner(confident_weights(False)).ask(TextTreeSource(slides_tree(), EMB), Q, OPTIONS)
    assert res.halted_by == "confident" and res.answer != "LIMA", (res.answer, [s.arguments for s in res.trace])


def test_reader_vote_names_the_option_the_reader_extracts():
    reads = [Read('Speech: "Welcome to the chapter about bridges." "Remember the secret word: pillow.".', 0, 30, "1")]
    v = reader_vote("What secret word did the narrator say?", ["rocket", "pillow", "tulip"], reads, EMB, 2.0)
    assert v.argmax() == 1 and v[1] > 0 and v[0] == v[2] == 0
    assert not reader_vote("What secret word did the narrator say?", ["rocket", "pillow"], reads, EMB, 0.0).any()


def test_part_summary_keeps_every_chapter_heading_in_time_order():
    kids = [f'On-screen text: "CHAPTER {i} | {t}" on dark blue; "{t} 1 | NUMBER {1000 + i}" on red; '
            f'"{t} 2 | NUMBER {2000 + i}" on white.' for i, t in enumerate(["BRIDGES", "GLACIERS", "CASTLES",
                                                                            "INSECTS", "WEATHER"], 1)]
    d = digest(kids, budget=12)
    heads = [d.find(f"CHAPTER {i} |") for i in range(1, 6)]
    assert all(h >= 0 for h in heads) and heads == sorted(heads), d


def test_evidence_is_the_read_that_states_the_answer():
    from videonav.agent.observe import cite

    # the distractor repeats the question's words (embedding-close); only the other states 8639
    reads = [Read('The number shown on the white slide: "NUMBER 3086" on white.', 540, 560, "2.4", "clip"),
             Read('Speech: "Here is part of our look at insects." On-screen text: "INSECTS 1 | NUMBER 8639" '
                  'on white; "INSECTS 2 | NUMBER 2337" on red; "INSECTS 3 | CITY OSLO" on teal.', 0, 300, "1",
                  "summary")]
    got = cite(reads, "What number was shown on the white slide?", "8639", EMB)
    assert [s.node_id for s in got] == ["1"]
