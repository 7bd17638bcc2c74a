"""Launch the gradio demo from a checkout: ``python demos/app.py [--port 7860 ...]``.

The app itself lives in the package (``videonav.agent.demo.ui``) so that ``videonav demo``
works from an installed wheel; this file only forwards to that verb.
"""

from __future__ import annotations

import sys

from videonav.agent.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["demo", *sys.argv[1:]]))
