"""Free-text questions whose answer is a time, a count, an overview, a quoted sentence or a
closed-class word (agent/answer_kinds.py), read through the public extract()."""

from __future__ import annotations

from videonav.agent.extract import NOT_FOUND, extract
from videonav.agent.observe import Read

ROOT = Read('On-screen text: "CHAPTER 1 | INSECTS" on dark blue; "INSECTS 1 | NUMBER 8639" on white. Speech: '
            '"Welcome to the chapter about insects.". On-screen text: "CHAPTER 2 | BRIDGES" on dark green. Speech: '
            '"Welcome to the chapter about bridges." "Here is part of our look at bridges.". On-screen text: '
            '"CHAPTER 3 | VOLCANOES" on dark red. Speech: "Here is part of our look at volcanoes.". '
            'Scene: 37 shots, low motion.', 0.0, 900.0, "root", "summary")
PARTS = [
    Read('On-screen text: "CHAPTER 1 | INSECTS" on dark blue. Speech: "Welcome to the chapter about insects." '
         '"Here is part of our look at insects.". On-screen text: "INSECTS 1 | NUMBER 8639" on white.',
         0.0, 300.0, "1", "summary"),
    Read('On-screen text: "CHAPTER 2 | BRIDGES" on dark green. Speech: "Welcome to the chapter about bridges." '
         '"Here is part of our look at bridges." "The longest bridge here spans a canyon.".', 300.0, 600.0, "2",
         "summary"),
    Read('On-screen text: "CHAPTER 3 | VOLCANOES" on dark red. Speech: "Here is part of our look at volcanoes." '
         '"Lava reaches the sea at night.".', 600.0, 900.0, "3", "summary"),
]
CLIP = Read('On-screen text: "CHAPTER 2 | BRIDGES" on dark green. Speech: "Welcome to the chapter about bridges.".',
            300.0, 310.0, "2.1.1", "clip")


def test_when_answers_a_time_and_a_clip_is_more_precise_than_a_part():
    coarse = extract("When does the chapter on Bridges start?", [ROOT, *PARTS])
    fine = extract("When does the chapter on Bridges start?", [ROOT, *PARTS, CLIP])
    assert coarse.text == "between 05:00 and 10:00" and coarse.read.node_id == "2"
    assert fine.text == "at 05:00" and fine.cited == ["2.1.1"]
    assert fine.confidence > coarse.confidence  # the planner keeps looking until it reads the clip


def test_how_many_chapters_counts_the_numbered_headings():
    ans = extract("How many chapters are there?", [ROOT])
    assert ans.text == "3" and ans.confidence >= 0.8
    # only the first two chapters read: the count says 2, with less confidence than from the whole video
    partial = extract("How many chapters are there?", PARTS[:2])
    assert partial.text == "2" and partial.confidence < ans.confidence


def test_overview_lists_the_chapter_topics_in_order():
    ans = extract("What is this video about?", [ROOT, *PARTS])
    assert ans.text == "3 chapters: Insects, Bridges and Volcanoes"
    assert ans.found and ans.read.node_id == "root"


def test_said_quotes_the_sentence_not_a_word_and_skips_boilerplate():
    ans = extract("What did the narrator say about volcanoes?", [ROOT, *PARTS])
    assert ans.text == "Lava reaches the sea at night."
    bridges = extract("What did the narrator say about the bridge?", [ROOT, *PARTS])
    assert bridges.text == "The longest bridge here spans a canyon."


def test_closed_class_questions_answer_a_class_word_or_not_found():
    # nothing read names a shape: not a chapter name at confidence 1, but "not found"
    none = extract("What shape moves across the dark red slide?", [ROOT, *PARTS])
    assert none.text == NOT_FOUND and none.confidence < 0.1
    seen = Read("A white triangle moves to the right across a dark red slide titled CHAPTER 3 VOLCANOES.",
                600.0, 620.0, "3.1", "clip")
    assert extract("What shape moves across the dark red slide?", [ROOT, *PARTS, seen]).text == "triangle"
    colour = extract("What colour was the slide that showed NUMBER 8639?", [ROOT, *PARTS])
    assert colour.text == "white" and colour.read is not None


def test_span_questions_still_go_to_the_span_reader():
    ans = extract("What number was shown on the white slide?", [ROOT, *PARTS])
    assert ans.text == "8639"
    word = extract("Which chapter comes right after the chapter on Insects?", [ROOT])
    assert word.text.lower() == "bridges"


def test_when_a_number_nothing_read_shows_is_not_found_or_unsure():
    ans = extract("When was the number 6617 shown?", [ROOT, *PARTS, CLIP])
    assert ans.confidence < 0.5, (ans.text, ans.confidence)
    sure = extract("When was the number 8639 shown?", [ROOT, *PARTS, CLIP])
    assert sure.text == "between 00:00 and 05:00" and sure.confidence > ans.confidence


def test_what_happens_at_a_time_answers_the_clip_holding_that_moment():
    reads = [Read("a man is riding a horse in a field. a dog runs after him.", 0, 40, "root", "summary"),
             Read("the man falls off the horse", 30, 35, "1.3", "clip")]
    ans = extract("What happens at 00:33?", reads)
    assert ans.text == "the man falls off the horse" and ans.cited == ["1.3"]
