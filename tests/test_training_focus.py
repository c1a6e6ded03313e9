"""Focus: a stage draws its conditions where the walker falls, through the real env workers, and keeps the
falls per cell across a resume."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from firmware_bridge.config import load_config
from firmware_bridge.config.paths import CONFIG_DIR
from teacher.config import SimConfig
from teacher.env import HipExoWalkerEnv
from teacher.training import checkpoint
from teacher.training.config import FocusConfig
from teacher.training.focus import CellFalls, FocusedConditions
from teacher.training.train import TeacherTrainer


def test_cells_cover_the_range_and_falls_weight_the_draw():
    falls = CellFalls(FocusConfig(speed_cells=2, slope_cells=2, share=0.5, window=4), [0.8, 1.6], [-5.0, 5.0])
    assert falls.cells == [
        ((0.8, 1.2), (-5.0, 0.0)),
        ((0.8, 1.2), (0.0, 5.0)),
        ((1.2, 1.6), (-5.0, 0.0)),
        ((1.2, 1.6), (0.0, 5.0)),
    ]
    # an unseen cell counts as falling, so every cell is drawn by falls alike before any episode ends
    np.testing.assert_allclose(falls.probabilities(), 0.25)
    for _ in range(6):  # the window keeps the last 4
        falls.record(0.8, -5.0, fell=True)  # lower edges belong to the first cell
        falls.record(1.6, 5.0, fell=False)  # upper edges to the last
    falls.record(1.0, 2.0, fell=True)
    falls.record(1.0, 2.0, fell=False)
    falls.record(1.3, -1.0, fell=False)
    np.testing.assert_array_equal(falls.episodes(), [4, 2, 1, 4])
    np.testing.assert_allclose(falls.fall_rates(), [1.0, 0.5, 0.0, 0.0])
    # half uniform (0.125 each), half in proportion to 1.0 : 0.5 : 0 : 0
    np.testing.assert_allclose(falls.probabilities(), [0.125 + 0.5 / 1.5, 0.125 + 0.25 / 1.5, 0.125, 0.125])
    restored = CellFalls(falls.config, [0.8, 1.6], [-5.0, 5.0])
    restored.load_state_dict(falls.state_dict())
    np.testing.assert_array_equal(restored.fall_rates(), falls.fall_rates())
    # other cells (a stage with another range) start afresh rather than take falls that belong elsewhere
    wider = CellFalls(falls.config, [0.8, 1.6], [-7.5, 7.5])
    wider.load_state_dict(falls.state_dict())
    assert wider.episodes().sum() == 0


def test_where_nothing_falls_the_draw_is_uniform():
    falls = CellFalls(FocusConfig(speed_cells=1, slope_cells=3, share=1.0), [1.0, 1.5], [-3.0, 3.0])
    for slope in (-2.0, 0.0, 2.0):
        falls.record(1.2, slope, fell=False)
    np.testing.assert_allclose(falls.probabilities(), 1 / 3)


@pytest.fixture(scope="module")
def slope_env():
    return FocusedConditions(HipExoWalkerEnv(load_config(CONFIG_DIR / "sim" / "slopes.yaml", SimConfig)))


def test_the_wrapper_draws_within_the_chosen_cells_and_options_still_rule(slope_env):
    slope_env.set_focus([((0.8, 0.9), (-10.0, -9.0)), ((1.4, 1.5), (9.0, 10.0))], [0.0, 1.0])
    drawn = [slope_env.reset(seed=k)[1] for k in range(8)]
    assert all(1.4 <= i["speed_m_s"] <= 1.5 and 9.0 <= i["slope_deg"] <= 10.0 for i in drawn)
    assert len({round(i["slope_deg"], 6) for i in drawn}) == 8  # uniform within the cell, per seed
    _, info = slope_env.reset(seed=0, options={"speed_m_s": 1.0, "slope_deg": 0.0})
    assert (info["speed_m_s"], info["slope_deg"]) == (1.0, 0.0)
    slope_env.set_focus(None, None)
    drawn = [slope_env.reset(seed=k)[1]["slope_deg"] for k in range(16)]
    assert min(drawn) < 0.0 < max(drawn)  # back to the walker's own uniform draw over ±10°


def test_the_wrapper_wears_the_exo_at_zero_torque_in_its_share_of_episodes():
    env = FocusedConditions(HipExoWalkerEnv(load_config(CONFIG_DIR / "sim" / "assist.yaml", SimConfig)))
    assert all(env.reset(seed=k)[1]["exo_on"] for k in range(8))  # no share: every episode assisted
    env.set_exo_off_share(0.3)
    worn = [env.reset(seed=k)[1]["exo_on"] for k in range(200)]
    assert 0.2 < 1.0 - np.mean(worn) < 0.4
    assert worn == [env.reset(seed=k)[1]["exo_on"] for k in range(200)]  # per seed, like the conditions
    assert env.reset(seed=0, options={"exo_on": True})[1]["exo_on"]  # the options still rule
    env.set_exo_off_share(1.0)
    _, info = env.reset(seed=3)
    assert info["exo_on"] is False
    action = np.ones(env.action_space.shape, dtype=np.float32)
    assert np.all(env.step(action)[4]["exo_torque_nm"] == 0.0)


def test_a_focused_stage_steers_the_env_workers_and_logs_and_keeps_its_cells(smoke_run, tmp_path):
    config = tmp_path / "focus.yaml"
    config.write_text(
        f"kind: teacher\nextends: {CONFIG_DIR / 'teacher' / 'smoke.yaml'}\ninit_from: {smoke_run}\n"
        "total_steps: 2048\nn_envs: 4\nenv_workers: 2\n"
        "stages:\n  - name: slopes\n    sim: " + str(CONFIG_DIR / "sim" / "slopes.yaml") + "\n"
        "    slope_range_deg: [-5.0, 5.0]\n    focus: {speed_cells: 2, slope_cells: 2, share: 1.0}\n"
    )
    trainer = TeacherTrainer(config, tmp_path / "run")
    assert trainer.cell_falls.cells[0] == ((0.8, 1.15), (-5.0, 0.0))
    for _ in range(3):  # only fast uphill walks fall: with share 1 every env's next reset is drawn there
        trainer.cell_falls.record(1.3, 2.0, fell=True)
        for speed, slope in ((0.9, -2.0), (0.9, 2.0), (1.3, -2.0)):
            trainer.cell_falls.record(speed, slope, fell=False)
    normaliser, _ = trainer.setup()
    try:
        normaliser.env_method("set_focus", *trainer.focus())
        normaliser.reset()
        drawn = normaliser.venv.reset_infos
        assert len(drawn) == 4
        assert all(1.15 <= i["speed_m_s"] <= 1.5 and 0.0 <= i["slope_deg"] <= 5.0 for i in drawn)
    finally:
        normaliser.close()

    result = TeacherTrainer(config, tmp_path / "fresh").train(progress=False)
    assert result.total_steps == 2048
    rows = list(csv.DictReader((tmp_path / "fresh" / "cells.csv").open()))
    assert {r["step"] for r in rows} == {"2048"} and len(rows) == 4
    assert sum(float(r["draw_share"]) for r in rows) == pytest.approx(1.0, abs=1e-3)
    state = checkpoint.read_state(tmp_path / "fresh")
    episodes = sum(len(f) for f in state["cell_falls"]["falls"])
    assert episodes == sum(int(r["episodes"]) for r in rows) and episodes > 0
    resumed = TeacherTrainer(config, tmp_path / "fresh", resume=True)
    assert resumed.cell_falls.episodes().sum() == episodes
    # a checkpoint from before falls were kept per cell resumes with none
    state_path = checkpoint.checkpoint_dir(tmp_path / "fresh") / checkpoint.STATE
    state.pop("cell_falls")
    state_path.write_text(json.dumps(state))
    assert TeacherTrainer(config, tmp_path / "fresh", resume=True).cell_falls.episodes().sum() == 0
