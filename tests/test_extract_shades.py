"""The extractive reader tells "dark red" from "red": a question about the red slide is not answered
from a dark red one, and while the red slide is unread the reader says it is unsure (keeps reading)."""

from __future__ import annotations

from videonav.agent.extract import extract
from videonav.agent.observe import Read
from videonav.tools.embed import HashingEmbedder

EMB = HashingEmbedder()
DARK = Read('On-screen text: "DESERTS 8 | NUMBER 1188" on dark red; "DESERTS 9 | CITY SOFIA" on brown.', 722, 800,
            "2.1", "summary")
RED = Read('On-screen text: "INSECTS 2 | NUMBER 4415" on red.', 343, 373, "1.3.5", "clip")


def test_red_slide_is_not_the_dark_red_one() -> None:
    ext = extract("What number was shown on the red slide?", [DARK, RED], EMB)
    assert ext.text == "4415" and ext.read == RED
    assert extract("What number was shown on the dark red slide?", [DARK, RED], EMB).text == "1188"


def test_unread_colour_means_low_confidence() -> None:
    ext = extract("What number was shown on the red slide?", [DARK], EMB)
    assert ext.confidence < 0.3  # free-text halting (0.75) keeps reading
    assert extract("What number was shown on the dark red slide?", [DARK], EMB).confidence > 0.75
