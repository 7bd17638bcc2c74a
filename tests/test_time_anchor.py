"""Questions anchored in time ("at 07:00", "at the end of the video", "in the last chapter"):
the guided planner goes where the question points and the free-text answer comes from there."""

from __future__ import annotations

from textfix import MaxCosScorer
from videonav.agent.config import load_config
from videonav.agent.planner import Planner
from videonav.agent.time_anchor import named_question, sections, tree_window, window, within
from videonav.memory.builders import build_from_timed_text
from videonav.memory.tree import TimedText
from videonav.tools.embed import ExtractiveSummariser, HashingEmbedder
from videonav.tools.text_source import TextTreeSource

EMB = HashingEmbedder()
TOPICS = ["insects", "bridges", "volcanoes", "mountains"]


def _tree():
    # 20 minutes, one slide per 18.75 s (64 leaves: the tree's four top-level parts are the four
    # chapters, [300k, 300(k+1))); slide i shows NUMBER 1000+i
    d = 18.75
    lines = [TimedText(start=d * i, end=d * (i + 1),
                       text=f'On-screen text: "{TOPICS[i // 16].upper()} {i % 16 + 1} | NUMBER {1000 + i}". '
                            f'Speech: "Remember the secret word: {["owl", "fern", "lava", "snow"][i // 16]}{i}."')
             for i in range(64)]
    return build_from_timed_text("anchored", lines, ExtractiveSummariser(EMB, 3), leaf_seconds=d, width=4)


def _ask(question: str):
    cfg = load_config(overrides=["planner.backend=none", "planner.prior=embedding", "budget.max_captions=12"])
    src = TextTreeSource(_tree(), EMB, inspect_lines=3)
    return Planner(cfg, None, EMB, MaxCosScorer(EMB)).ask(src, question, [])


def test_a_clock_time_is_answered_from_the_clip_at_that_time():
    res = _ask("What is shown at 07:10?")  # slide 22 (412.5-431.25 s)
    assert "NUMBER 1022" in res.answer
    assert res.evidence[0].start <= 430 <= res.evidence[0].end and res.evidence[0].end - res.evidence[0].start <= 20
    assert res.cost.captions_read <= 12


def test_the_last_chapter_is_read_not_a_summary_of_the_whole_video():
    res = _ask("What is the secret word in the last chapter?")
    assert res.answer.startswith("snow"), res.answer
    assert all(s.start >= 900 - 1e-6 for s in res.evidence[:1])


def test_within_keeps_only_the_reads_mostly_inside_the_window():
    from videonav.agent.observe import Read

    reads = [Read("everything", 0, 1200, "root"), Read("chapter 4", 900, 1200, "4"), Read("clip", 1180, 1200, "4.4.4")]
    end = window("What happens at the end of the video?", 1200.0)
    assert [r.node_id for r in within(reads, end)] == ["4.4.4"]
    last = window("What is in the last chapter?", 1200.0, [(0, 600), (600, 900), (900, 1200)])
    assert [r.node_id for r in within(reads, last)] == ["4", "4.4.4"]
    assert within(reads, window("What number was shown?", 1200.0)) == reads


def test_sections_come_from_the_chapter_cards_not_the_even_split_of_the_tree():
    # 12 chapters of 100 s under a tree whose top level is an even split into 3 or 4 parts
    lines = [TimedText(start=25.0 * i, end=25.0 * (i + 1),
                       text=(f'On-screen text: "CHAPTER {i // 4 + 1} | TOPIC {i // 4}"' if i % 4 == 0 else
                             f'On-screen text: "SLIDE {i} | NUMBER {i}"'))
             for i in range(48)]
    tree = build_from_timed_text("cards", lines, ExtractiveSummariser(EMB, 3), leaf_seconds=25.0, width=4)
    assert len(tree.children("root")) < 12
    secs = sections(tree)
    assert len(secs) == 12 and secs[0] == (0.0, 100.0) and secs[-1] == (1100.0, 1200.0)
    assert tree_window("What is shown in the last chapter?", tree) == (1100.0, 1200.0)
    assert tree_window("What is shown in the second chapter?", tree) == (100.0, 200.0)


def test_an_ordinal_chapter_is_named_by_its_heading_for_the_reader():
    lines = [TimedText(start=25.0 * i, end=25.0 * (i + 1),
                       text=(f'On-screen text: "CHAPTER {i // 4 + 1} | TOPIC {"ABCDEFGHIJKL"[i // 4]}"' if i % 4 == 0
                             else f'On-screen text: "SLIDE {i} | CITY {"XYZW"[i % 4]}{i}"'))
             for i in range(48)]
    tree = build_from_timed_text("named", lines, ExtractiveSummariser(EMB, 3), leaf_seconds=25.0, width=4)
    assert named_question("Which city is named in the eighth chapter?", tree) == \
        "Which city is named during the chapter on Topic H?"
    assert named_question("Which city is named?", tree) == "Which city is named?"
    # a summary that runs from chapter 8 into chapter 9: only what lies under heading 8 answers
    from videonav.agent.extract import extract
    from videonav.agent.observe import Read

    part = Read('On-screen text: "CHAPTER 8 | TOPIC H"; "SLIDE 29 | CITY Y29"; "CHAPTER 9 | TOPIC I"; '
                '"SLIDE 33 | CITY Y33"', 700.0, 850.0, "3.2", "summary")
    q = named_question("Which city is named in the eighth chapter?", tree)
    assert extract(q, [part]).text == "Y29"


def test_inspecting_a_part_for_a_named_time_reads_the_clips_at_that_time():
    from videonav.agent.actions import Action
    from videonav.agent.episode import Episode
    from videonav.agent.observe import observe

    cfg = load_config(overrides=["planner.backend=none"])
    src = TextTreeSource(_tree(), EMB, inspect_lines=3)
    ep = Episode.start(src, "What is shown at 07:10?", [], cfg)
    text, reads, err = observe(Action(name="inspect", node_id="2"), ep, src, cfg, EMB)
    assert not err and reads and "NUMBER 1022" in reads[0].text + reads[-1].text
    assert all(r.node_id.startswith("2.") and r.end - r.start <= 19 for r in reads)
    assert min(abs((r.start + r.end) / 2 - 430) for r in reads) < 10
    # without a time in the question, inspect reads the lines most similar to the query, as before
    ep2 = Episode.start(src, "Which number was on the bridges slide?", [], cfg)
    _, plain, _ = observe(Action(name="inspect", node_id="2"), ep2, src, cfg, EMB)
    assert all(r.kind == "line" for r in plain)
