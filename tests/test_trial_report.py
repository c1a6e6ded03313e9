"""The trial report flags a walker whose two legs disagree (stride count or mean stride time beyond 10 %)."""

from __future__ import annotations

import json

import pytest
from synthetic_trial import write_walking_trial

from analysis.gait import GaitProfile, leg_disagreement
from tools.cli import main


@pytest.mark.parametrize(
    ("strides", "flagged"),
    [((1.0, 1.3), True), ((1.1, 1.1), False)],
    ids=["legs disagree", "legs agree"],
)
def test_the_report_flags_legs_that_disagree(tmp_path, capsys, strides, flagged):
    trial = write_walking_trial(tmp_path / "walk.mcap", strides, duration_s=20.0)
    assert main(["trial", "report", str(trial), "--out", str(tmp_path / "report")]) == 0
    printed = capsys.readouterr().out
    figures = json.loads((tmp_path / "report" / "trial_report.json").read_text())
    markdown = (tmp_path / "report" / "trial_report.md").read_text()
    disagreement = figures["leg_disagreement"]
    assert disagreement["flagged"] is flagged and disagreement["limit"] == 0.1
    assert ("WARNING: the legs disagree" in markdown) is flagged
    assert ("WARNING: the legs disagree" in printed) is flagged
    right, left = figures["sides"]["right"], figures["sides"]["left"]
    assert right["stride_s"] == pytest.approx(strides[0], abs=0.02)
    assert left["stride_s"] == pytest.approx(strides[1], abs=0.02)
    if flagged:
        assert disagreement["stride_s"] == pytest.approx(0.3 / 1.3, abs=0.02)
        assert f"right {right['strides']} strides of 1.00 s, left {left['strides']} of 1.30 s" in markdown
    else:
        assert disagreement["strides"] == 0.0 and disagreement["stride_s"] < 0.01


def profile(strides: int, stride_s: float) -> GaitProfile:
    return GaitProfile(mean=None, std=None, strides=strides, stride_s=stride_s)


def test_the_limit_is_ten_percent_of_the_larger_leg():
    assert not leg_disagreement(profile(50, 1.0), profile(46, 1.0)).flagged  # 8 % fewer strides
    assert leg_disagreement(profile(50, 1.0), profile(44, 1.0)).flagged  # 12 %
    assert leg_disagreement(profile(53, 0.99), profile(66, 0.75)).flagged  # the demo's walker
    assert leg_disagreement(profile(50, 1.0), profile(50, 0.88)).flagged  # same count, stride times 12 % apart
    assert leg_disagreement(profile(12, 1.1), profile(0, float("nan"))).flagged  # one leg without strides
    assert not leg_disagreement(profile(0, float("nan")), profile(0, float("nan"))).flagged  # no walking at all
