"""The search over how the prior walks a slope: its score, its bounds, and the command that runs it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from teacher.config import SlopeSetting
from teacher.evaluation import EpisodeRecord
from teacher.slope_search import BOUNDS, SPEED_WEIGHT, SlopeScore, setting_from_unit, unit_from_setting
from tools.cli import main


def _walk(steps: int, speed_error: float) -> EpisodeRecord:
    return EpisodeRecord(0, steps, steps < 500, speed_error, 10.0, 0.2, 3.0, (2, 2), {})


def test_a_walk_counts_its_speed_error_as_long_as_it_lasted():
    """A fall in the first second must not beat a whole walk by matching the speed before it fell."""
    early_fall_on_speed = SlopeScore.of([_walk(50, 0.0)], 500)
    whole_walk_too_slow = SlopeScore.of([_walk(500, 0.3)], 500)
    assert whole_walk_too_slow.score > early_fall_on_speed.score
    both = SlopeScore.of([_walk(250, 0.2), _walk(500, 0.05)], 500)
    assert both.walked == pytest.approx(0.75) and both.falls == 1
    assert both.score == pytest.approx(np.mean([0.5 * (1 - SPEED_WEIGHT * 0.2), 1 - SPEED_WEIGHT * 0.05]))


def test_settings_map_to_the_unit_cube_and_back():
    setting = SlopeSetting(slope_deg=5.0, trunk_lean_rad=0.2, knee_flexion_rad=0.1, propulsion_nm_per_kg_per_m_s=1.0)
    unit = unit_from_setting(setting)
    assert np.all((unit >= 0.0) & (unit <= 1.0)) and len(unit) == len(BOUNDS)
    back = setting_from_unit(5.0, unit)
    assert back.as_dict() == pytest.approx(setting.as_dict())


def test_tune_slope_searches_resumes_and_starts_from_a_neighbour(smoke_run, tmp_path):
    out = tmp_path / "search"
    (tmp_path / "start.json").write_text(json.dumps(SlopeSetting(slope_deg=-5.0, trunk_lean_rad=0.1).as_dict()))
    args = ["teacher", "tune-slope", str(smoke_run), "--slope", "3", "--speeds", "1.25", "--episodes", "2"]
    args += ["--duration", "1.0", "--population", "3", "--workers", "2", "--out", str(out)]
    args += ["--start", str(tmp_path / "start.json")]
    assert main([*args, "--generations", "1"]) == 0
    assert main([*args, "--generations", "2"]) == 0  # resumes: one more generation
    history = [json.loads(line) for line in (out / "history.jsonl").read_text().splitlines()]
    assert [h["generation"] for h in history] == [1, 1, 1, 2, 2, 2]
    assert all(h["slope_deg"] == 3.0 for h in history)
    best = json.loads((out / "best.json").read_text())
    assert best["score"] >= max(h["score"] for h in history) and 0.0 <= best["walked"] <= 1.0


def test_tune_slope_names_a_start_file_it_cannot_read(smoke_run, tmp_path, capsys):
    (tmp_path / "bad.json").write_text("{}")
    args = ["teacher", "tune-slope", str(smoke_run), "--slope", "3", "--start", str(tmp_path / "bad.json")]
    assert main([*args, "--out", str(tmp_path / "out")]) == 2
    assert "bad.json: not a setting written by 'hipexo teacher tune-slope'" in capsys.readouterr().err
