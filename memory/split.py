"""The one train/dev split of NExT-QA videos, by hashing the video id (80/20).

Every command (trajectories, SFT, GRPO, eval, benchmarks) calls :func:`split_of`, so a video
never moves between splits and dev numbers are never trained on.
"""

from __future__ import annotations

import hashlib


def split_of(video_id: str, dev_percent: int = 20) -> str:
    """``"train"`` or ``"dev"``: sha1(video id) mod 100 < dev_percent -> dev.

    >>> split_of("4010069381") in {"train", "dev"}
    True
    >>> split_of("4010069381") == split_of("4010069381")
    True
    """
    bucket = int(hashlib.sha1(str(video_id).encode()).hexdigest(), 16) % 100
    return "dev" if bucket < dev_percent else "train"
