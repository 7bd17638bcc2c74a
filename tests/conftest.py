"""Shared fixtures: a tiny synthetic video (20 s of text cards) made once per session.

Four 5-second cards in distinct colours with big bold text (tesseract must read it back), a
moving square, a matching ``.srt`` sidecar, at 5 fps with 1-second GOPs: ~0.5 s to encode.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import scripted  # noqa: F401  (registers the test-only planner.backend=scripted)

CARDS = [  # (title, body, background, colour name)
    ("ALPHA", "1234", (215, 35, 35), "red"),
    ("BRAVO", "5678", (35, 70, 210), "blue"),
    ("CHARLIE", "2468", (45, 180, 65), "green"),
    ("DELTA", "1357", (235, 215, 45), "yellow"),
]
CARD_SECONDS = 5.0
FPS = 5
SRT = """1
00:00:01,000 --> 00:00:03,000
Welcome to the <i>alpha</i> card.

2
00:00:06,000 --> 00:00:09,500
The bravo card shows a blue background.

3
00:00:11,000 --> 00:00:12,000
Charlie says the password is pineapple.

4
00:00:16,000 --> 00:00:19,000
Delta is the last card.
"""


@dataclass(frozen=True)
class TinyVideo:
    path: Path
    srt: Path
    duration: float
    fps: int
    cards: list[tuple[str, str, tuple[int, int, int], str]]


def render_cards(path: Path, cards: list, seconds: float, fps: int,
                 size: tuple[int, int] = (640, 360)) -> None:
    import av
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf", 56)
    w, h = size
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        s.options = {"preset": "ultrafast", "g": str(fps)}
        for title, body, bg, _ in cards:
            img = Image.new("RGB", size, bg)
            d = ImageDraw.Draw(img)
            ink = (0, 0, 0) if sum(bg) > 400 else (255, 255, 255)
            d.text((60, 80), title, fill=ink, font=font)
            d.text((60, 180), body, fill=ink, font=font)
            base = np.asarray(img).copy()
            n = int(seconds * fps)
            for i in range(n):
                fr = base.copy()
                x = 20 + i * 8
                fr[300:330, x : x + 30] = 255 - np.array(ink, dtype=np.uint8)
                for pkt in s.encode(av.VideoFrame.from_ndarray(fr, format="rgb24")):
                    c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)


@pytest.fixture(scope="session")
def tiny_video(tmp_path_factory: pytest.TempPathFactory) -> TinyVideo:
    d = tmp_path_factory.mktemp("tiny_video")
    path = d / "cards.mp4"
    render_cards(path, CARDS, CARD_SECONDS, FPS)
    srt = d / "cards.srt"
    srt.write_text(SRT, encoding="utf-8")
    return TinyVideo(path=path, srt=srt, duration=CARD_SECONDS * len(CARDS), fps=FPS, cards=CARDS)


@pytest.fixture(scope="session")
def shared_clips() -> Path:
    """../shared/data/clips (real short videos) or a clean skip."""
    here = Path(__file__).resolve().parents[1]
    for cand in (here.parent / "shared" / "data" / "clips", Path("/work/shared/data/clips")):
        if cand.is_dir() and any(cand.iterdir()):
            return cand
    pytest.skip("../shared/data/clips not present")
