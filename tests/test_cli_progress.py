"""``videonav index``'s progress bar appears with the first step, so a run that fails before any
step (a corrupt or missing video) prints its one error line and nothing else."""

from __future__ import annotations

import pytest

from videonav.agent.cli.index import progress_bar


def test_a_failure_before_any_step_prints_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ValueError), progress_bar(True):
        raise ValueError("the probe failed")
    assert capsys.readouterr().err == ""


def test_a_step_shows_the_bar(capsys: pytest.CaptureFixture[str]) -> None:
    with progress_bar(True) as update:
        update(3, 10, "scan")
    err = capsys.readouterr().err
    assert "scan" in err and "3/10" in err


def test_disabled_yields_no_callback(capsys: pytest.CaptureFixture[str]) -> None:
    with progress_bar(False) as update:
        assert update is None
    assert capsys.readouterr().err == ""
