"""The examples in the core modules' docstrings are tests too."""

import doctest
import importlib

import pytest

MODULES = ["videonav.memory.tree", "videonav.memory.builders", "videonav.memory.store", "videonav.memory.split",
           "videonav.agent.actions", "videonav.agent.prompts", "videonav.agent.config", "videonav.tools.embed",
           "videonav.tools.video.readers", "videonav.rl.rewards", "videonav.tools.http"]


@pytest.mark.parametrize("name", MODULES)
def test_module_doctests(name):
    mod = importlib.import_module(name)
    res = doctest.testmod(mod)
    assert res.failed == 0 and res.attempted > 0, name
