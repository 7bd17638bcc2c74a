"""The one human-readable clock for video times, used by prompts, chapter exports and the demo.

Seconds are *floored*, never rounded: a chapter starting at 59.6 s is "00:59", as YouTube
chapter lists and every video player's position display show it, so the demo's chapter table,
the Markdown/YouTube exports and the planner's prompts always print the same stamp for the
same time. (Two clocks that rounded differently once showed "01:00" and "00:59" for one
chapter.) It lives in ``memory`` because the tree's own times are what it formats and every
layer above may import it.
"""

from __future__ import annotations

import math


def clock(seconds: float) -> str:
    """``mm:ss`` below an hour, ``h:mm:ss`` from an hour on; seconds floored; negative or
    non-finite times (a broken probe) print as 0 rather than raise mid-render.

    >>> clock(59.6), clock(75.4), clock(3599.99), clock(3725)
    ('00:59', '01:15', '59:59', '1:02:05')
    >>> clock(-3), clock(float("nan"))
    ('00:00', '00:00')
    """
    s = int(math.floor(seconds)) if math.isfinite(seconds) and seconds > 0 else 0
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m:02d}:{sec:02d}"
