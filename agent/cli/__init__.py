"""The ``videonav`` command line: one module per verb, shared options declared once (``common``)."""

from videonav.agent.cli.dispatch import main

__all__ = ["main"]
