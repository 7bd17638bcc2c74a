"""Tree building: summaries of labelled captions keep what differs between siblings, within a budget."""

from __future__ import annotations

import random

from videonav.memory.builders import build_from_timed_text, caption_bottom_up, skeleton
from videonav.memory.tree import TimedText
from videonav.tools.digest import content_words, digest, parse_fields
from videonav.tools.embed import ExtractiveSummariser, HashingEmbedder


def _scene(topic: str, k: int, colour: str, speech: str = "") -> str:
    said = f"Here is part of our look at {topic.lower()}.{(' ' + speech) if speech else ''}"
    return f'On-screen text: "{topic} {k} | NUMBER {4000 + k}" on {colour}. Speech: "{said}". Scene: 1 shot.'


def test_summariser_keeps_distinctive_fields_and_drops_boilerplate():
    kids = [_scene("INSECTS", k, "white" if k == 3 else "dark red",
                   "Remember the secret word: parrot." if k == 5 else "") for k in range(1, 9)]
    out = ExtractiveSummariser(HashingEmbedder(), budget_words=30)(kids)
    assert '"INSECTS 3 | NUMBER 4003" on white' in out
    assert "Remember the secret word: parrot." in out
    assert "Here is part of our look" not in out
    assert "Scene:" not in out  # a parent states its own statistics


def test_summary_is_bounded_and_every_word_comes_from_a_child():
    rng = random.Random(7)
    colours = ["red", "dark blue", "teal", "white"]
    for trial in range(20):
        said = ["", "Our reporter is speaking from Oslo today."]
        kids = [_scene(rng.choice(["BIRDS", "OCEAN LIFE"]), rng.randint(1, 30), rng.choice(colours),
                       rng.choice(said)) for _ in range(rng.randint(2, 12))]
        budget = rng.randint(10, 60)
        out = digest(kids, budget)
        fields = parse_fields(out)
        assert sum(f.words() for f in fields) <= budget, trial
        assert content_words(out) <= content_words(" ".join(kids)), trial


def test_tree_root_carries_the_needle_of_a_deep_leaf():
    """Bottom-up over three levels: the white slide and the spoken word reach the root."""
    caps = [_scene("BRIDGES", k, "white" if k == 17 else ["dark red", "teal", "brown"][k % 3],
                   "Remember the secret word: walrus." if k == 9 else "") for k in range(1, 28)]
    tree, leaf_ids = skeleton("v", [(10.0 * i, 10.0 * i + 10) for i in range(27)], 3)
    for lid, cap in zip(leaf_ids, caps, strict=True):
        tree.set_caption(lid, cap)
    caption_bottom_up(tree, ExtractiveSummariser(HashingEmbedder(), budget_words=40))
    root = tree.root.caption or ""
    assert "on white" in root and "walrus" in root
    assert "Here is part of our look" not in root


def test_plain_sentences_keep_the_centroid_summary():
    lines = [TimedText(start=i, end=i + 1, text=t) for i, t in
             enumerate(["A dog runs in the snow.", "The dog jumps for a frisbee.", "A dog runs in the snow."] * 4)]
    tree = build_from_timed_text("dogs", lines, ExtractiveSummariser(HashingEmbedder(), sentences=1))
    assert "dog" in (tree.root.caption or "").lower() and "On-screen" not in (tree.root.caption or "")


def test_every_child_is_represented_before_any_gets_two_fields():
    """A parent spanning two topics names both, though one child's fields are all rarer."""
    busy = " ".join(f'"WEATHER {k} | NUMBER {5000 + k}" on {c};' for k, c in
                    enumerate(["red", "white", "pink", "cyan", "orange"], 1))
    kids = [f"On-screen text: {busy.rstrip(';')}.",
            'On-screen text: "MUSIC 1 | NUMBER 6001" on teal; "MUSIC 2 | NUMBER 6002" on teal.']
    out = digest(kids, budget=24)
    assert "MUSIC" in out and out.count("WEATHER") == 2


def test_a_field_that_only_repeats_kept_names_is_skipped():
    kids = [f'On-screen text: "BIRDS {k} | CITY {c}" on {col}. '
            f'Speech: "Our reporter is speaking from {c.title()} today.".'
            for k, c, col in [(1, "OSLO", "white"), (2, "LIMA", "red"), (3, "ROME", "pink")]]
    out = digest(kids, budget=60)
    assert all(f"CITY {c}" in out for c in ("OSLO", "LIMA", "ROME"))
    assert "speaking from" not in out  # each spoken city is already on a kept slide
