"""Section structure in summaries: interleaved rendering (tools/digest.py) and the readers that use it
(agent/sections.py via agent/extract.py): "the chapter right after X", "during the chapter on X"."""

from __future__ import annotations

from videonav.agent.extract import extract, normalise, reader_vote
from videonav.agent.extract_text import units_of
from videonav.agent.observe import Read
from videonav.agent.sections import adjacent, headings, scope
from videonav.tools.digest import digest, parse_fields
from videonav.tools.embed import HashingEmbedder

EMB = HashingEmbedder()

# three 2-minute children of a part, each opening a chapter and saying its secret word
KIDS = [
    'On-screen text: "CHAPTER 1 | CORAL REEFS" on dark blue. Speech: "Remember the secret word: parrot.".',
    'On-screen text: "CHAPTER 2 | INSECTS" on green; "INSECTS 1 | NUMBER 3867" on purple. '
    'Speech: "Remember the secret word: walrus.".',
    'On-screen text: "CHAPTER 3 | DESERTS" on dark red. Speech: "Remember the secret word: violin.".',
]


def test_summary_keeps_what_was_said_under_each_heading() -> None:
    out = digest(KIDS, budget=60)
    order = [f.text for f in parse_fields(out)]
    want = ["CHAPTER 1 | CORAL REEFS", "Remember the secret word: parrot.", "CHAPTER 2 | INSECTS",
            "Remember the secret word: walrus.", "CHAPTER 3 | DESERTS", "Remember the secret word: violin."]
    assert [t for t in order if t in want] == want
    # still one label per run, every quoted field from a child
    assert out.count("Speech:") == 3 and out.startswith('On-screen text: "CHAPTER 1 | CORAL REEFS"')


def _summary() -> list[Read]:
    return [Read(digest(KIDS, budget=60), 0, 720, "1", "summary")]


def test_secret_word_during_a_chapter_comes_from_under_its_heading() -> None:
    reads = _summary()
    for chapter, word in [("Coral Reefs", "parrot"), ("Insects", "walrus"), ("Deserts", "violin")]:
        q = f"What secret word did the narrator say during the chapter on {chapter}?"
        ext = extract(q, reads, EMB)
        assert normalise(ext.text) == word, (chapter, ext.text)
        vote = reader_vote(q, ["parrot", "walrus", "violin"], reads, EMB, 4.0)
        assert int(vote.argmax()) == ["parrot", "walrus", "violin"].index(word) and vote.max() > 0


def test_chapter_right_after_and_before_by_heading_number() -> None:
    reads = _summary()
    after = extract("Which chapter comes right after the chapter on Insects?", reads, EMB)
    before = extract("Which chapter comes right before the chapter on Insects?", reads, EMB)
    assert normalise(after.text) == "deserts" and after.confidence >= 0.75
    assert normalise(before.text) == "coral reefs" and before.read is not None and before.read.node_id == "1"


def test_numbers_not_reading_order_decide_what_comes_next() -> None:
    # two reads out of time order: the later chapter's clip was read first
    reads = [Read('On-screen text: "CHAPTER 5 | BIRDS" on teal.', 900, 912, "3.1.1", "clip"),
             Read('On-screen text: "CHAPTER 4 | CASTLES" on red; "CASTLES 1 | NUMBER 12" on red.', 600, 640, "2.4.1",
                  "clip")]
    got = adjacent("Which chapter comes right after the chapter on Castles?", units_of_reads(reads))
    assert got is not None and got.topic == "BIRDS" and got.number == 5
    # the next heading was never read: nothing is claimed
    assert adjacent("Which chapter comes right after the chapter on Birds?", units_of_reads(reads)) is None


def units_of_reads(reads: list[Read]) -> list:
    return [u for i, r in enumerate(reads) for u in units_of(r.text, i)]


def test_headings_and_scope_are_generic_section_words() -> None:
    us = units_of('On-screen text: "PART II | RESULTS"; "Lesson 3: Fractions". Speech: "Halve it.".')
    assert [(h.number, h.topic) for h in headings(us)] == [(2, "RESULTS"), (3, "Fractions")]
    under = scope("What was said in the lesson on fractions?", us)
    assert [us[k].segment for k, inside in under.items() if inside] == ["Halve it."]
    # a slide title with a number is not a heading; questions without a section name have no scope
    assert headings(units_of('On-screen text: "BRIDGES 3 | NUMBER 12".')) == []
    assert scope("What number was shown on the white slide?", us) == {}


def test_a_chapter_without_its_word_in_the_read_is_no_confident_answer() -> None:
    reads = [Read('On-screen text: "CHAPTER 1 | CORAL REEFS" on dark blue; "CORAL REEFS 6 | NUMBER 7241" on yellow. '
                  'Speech: "Our reporter is speaking from Dublin today.". On-screen text: "CHAPTER 2 | INSECTS". '
                  'Speech: "Remember the secret word: walrus.".', 0, 720, "1", "summary")]
    ext = extract("What secret word did the narrator say during the chapter on Coral Reefs?", reads, EMB)
    assert normalise(ext.text) != "walrus" and ext.confidence < 0.75


def test_a_section_continues_into_the_next_part() -> None:
    # the Comets heading closes part 1; its secret word is said at the start of part 2
    reads = [Read('On-screen text: "CHAPTER 2 | RAINFORESTS". Speech: "Remember the secret word: falcon.". '
                  'On-screen text: "CHAPTER 3 | COMETS" on dark red.', 0, 704, "1", "summary"),
             Read('On-screen text: "COMETS 9 | NUMBER 5791" on cyan. Speech: "Remember the secret word: tulip.". '
                  'On-screen text: "CHAPTER 4 | DESERTS". Speech: "Remember the secret word: canyon.".',
                  704, 1375, "2", "summary")]
    ext = extract("What secret word did the narrator say during the chapter on Comets?", reads, EMB)
    assert normalise(ext.text) == "tulip"
    # without the time link (a gap between the parts) nothing says part 2 opens in Comets
    gap = [reads[0], Read(reads[1].text, 900, 1375, "2", "summary")]
    us = units_of_reads(gap)
    under = scope("What secret word did the narrator say during the chapter on Comets?", us,
                  [(r.start, r.end) for r in gap])
    assert not any(inside for k, inside in under.items() if us[k].read == 1)


def test_a_clip_answer_listing_lines_by_relevance_has_no_headings() -> None:
    # 'answer' reads (a clip QA) join ranked lines with '|': "CHAPTER 2 | COMETS 2 | ..." is no heading
    reads = [Read('On-screen text: "CHAPTER 2 (on dark green) | COMETS 2 (on red) | NUMBER 7279 (on white)". '
                  'Speech: "Remember the secret word: beacon. Remember the secret word: falcon.".', 0, 704, "1",
                  "answer")]
    ext = extract("What secret word did the narrator say during the chapter on Comets?", reads, EMB)
    assert ext.confidence < 0.75
    assert extract("Which chapter comes right after the chapter on Comets?", reads, EMB).confidence < 0.75


def test_headings_leave_out_the_reads_they_are_told_to_skip() -> None:
    """What the extractor relies on for clip-QA answers (agent/extract.py passes kind == "answer")."""
    reads = [Read('On-screen text: "CHAPTER 2 | COMETS" on dark green.', 0, 30, "1.1", "answer"),
             Read('On-screen text: "CHAPTER 3 | RIVERS" on teal.', 30, 60, "1.2", "clip")]
    us = units_of_reads(reads)
    assert [h.topic.lower() for h in headings(us)] == ["comets", "rivers"]
    assert [h.topic.lower() for h in headings(us, frozenset({0}))] == ["rivers"]
