"""Thin launcher: the generator is ``videonav.tools.video.sample_video`` (also ``python -m`` it)."""

import sys

from videonav.tools.video.sample_video import main

if __name__ == "__main__":
    sys.exit(main())
