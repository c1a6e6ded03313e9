"""The hip profile CMA-ES tunes, the search that scores it paired, and cloning it into a teacher's exo head."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from teacher.assistance import HipProfile, ProfileAssisted, profile_from_unit, unit_from_profile
from teacher.evaluation import EpisodeRecord
from teacher.profile_search import FALL_PENALTY_PCT, PairedScore
from tools.cli import main

PROFILE = HipProfile(0.2, -0.05, 0.1, 0.12, 0.55, 0.15)


def test_profile_peaks_where_and_as_high_as_its_parameters_say():
    phase = np.linspace(0.0, 1.0, 1001)
    torque = PROFILE.torque_nm_per_kg(phase)
    assert torque.min() == pytest.approx(-0.2)
    assert torque.max() == pytest.approx(0.12) and phase[np.argmax(torque)] == pytest.approx(0.55)
    assert PROFILE.torque_nm_per_kg(0.04) < 0.0 and phase[np.argmin(torque)] == pytest.approx(0.95)  # wraps
    assert PROFILE.torque_nm_per_kg(0.3) == 0.0
    right, left = PROFILE.commands(0.05, full_scale_nm_per_kg=0.25)
    assert left == pytest.approx(PROFILE.torque_nm_per_kg(0.55) / 0.25)  # the left leg half a cycle later
    assert right == pytest.approx(PROFILE.torque_nm_per_kg(0.05) / 0.25)
    np.testing.assert_allclose(
        unit_from_profile(profile_from_unit(unit_from_profile(PROFILE))), unit_from_profile(PROFILE)
    )
    assert np.all(np.abs(HipProfile(0.25, 0, 0.3, 0.25, 0.5, 0.3).commands(0.0, 0.1)) <= 1.0)


def test_the_wearer_follows_the_gait_clock_of_the_observation():
    from teacher.env import HipExoWalkerEnv

    env = HipExoWalkerEnv()

    class Still:
        sim_config = env.config

        def act(self, observation):
            return np.zeros(env.action_space.shape)

    wearer = ProfileAssisted(Still(), PROFILE, 0.25)
    obs, _ = env.reset(seed=3)
    for _ in range(20):
        action = wearer.act(obs)
        np.testing.assert_allclose(action[-2:], PROFILE.commands(env.phase, 0.25), atol=1e-6)
        assert np.all(action[:-2] == 0.0)
        obs, *_ = env.step(action)


def _episode(seed: int, metabolic: float, fell: bool = False) -> EpisodeRecord:
    return EpisodeRecord(seed, 500, fell, 0.0, metabolic, 0.2, 3.0, (2, 2), {})


def test_a_candidate_scores_its_paired_reduction_less_its_extra_falls():
    off = [_episode(k, 10.0 + k) for k in range(4)]
    on = [_episode(0, 9.0), _episode(1, 10.0), _episode(2, 12.0), _episode(3, 1.0, fell=True)]
    score = PairedScore.of(off, on)
    per_seed = [10.0, 100 / 11, 0.0]
    assert score.pairs == 3 and score.falls_on == 1 and score.reduction_pct == pytest.approx(np.mean(per_seed))
    assert score.score == pytest.approx(np.mean(per_seed) - FALL_PENALTY_PCT / 4)


def test_tune_profile_searches_resumes_and_clone_profile_warm_starts_the_exo_head(smoke_run, tmp_path):
    out = tmp_path / "search"
    args = ["teacher", "tune-profile", str(smoke_run), "--speed", "1.25", "--episodes", "2", "--duration", "2.5"]
    args += ["--population", "3", "--workers", "2", "--out", str(out)]
    assert main([*args, "--generations", "1"]) == 0
    assert len((out / "history.jsonl").read_text().splitlines()) == 3
    assert main([*args, "--generations", "2"]) == 0  # resumes: one more generation, not two
    history = [json.loads(line) for line in (out / "history.jsonl").read_text().splitlines()]
    assert [h["generation"] for h in history] == [1, 1, 1, 2, 2, 2]
    best = json.loads((out / "best.json").read_text())
    assert best["score"] >= max(h["score"] for h in history)

    (tmp_path / "profile.json").write_text(json.dumps(PROFILE.as_dict()))
    from teacher.training.clone import clone

    result = clone(smoke_run, tmp_path / "cloned", PROFILE, 0.25, [1.25], [2000, 2001], seconds=1.0, epochs=400)
    assert result.exo_rmse < 0.05 and result.muscle_rmse < 0.05
    from teacher.policy import TeacherPolicy

    cloned = TeacherPolicy(tmp_path / "cloned")
    data = __import__("pickle").loads((tmp_path / "cloned" / "clone_data.pkl").read_bytes())
    commands = np.array([cloned.act(o)[-2:] for o in data["observations"]])
    assert np.sqrt(np.mean((commands - data["commands"]) ** 2)) < 0.05
    state = json.loads((tmp_path / "cloned" / "checkpoint" / "state.json").read_text())
    assert state["cloned_profile"]["profile"] == PROFILE.as_dict()
    assert cloned.sim_config.exo_enabled and cloned.sim_config.exo_driver == "policy"  # its head drives the exo
    assert math.isfinite(result.exo_rmse)


def test_an_env_driven_by_a_profile_ignores_the_policys_exo_commands():
    """The human adapts to a fixed exo: with exo_driver 'profile' the exo follows the profile on the env's gait
    clock through the device's shaping chain, whatever the policy asks."""
    import dataclasses

    from firmware_bridge.shaping import ShaperState, shape_step
    from teacher.env import HipExoWalkerEnv

    env = HipExoWalkerEnv()
    env = HipExoWalkerEnv(dataclasses.replace(env.config, exo_enabled=True, exo_driver="profile", exo_profile=PROFILE))
    env.reset(seed=1)
    shaper = ShaperState.initial(env.shaping)
    rng = np.random.default_rng(0)
    for _ in range(30):
        commands = PROFILE.commands(env.phase, env.device.command_full_scale_nm_per_kg)
        action = rng.uniform(env.action_space.low, env.action_space.high)
        info = env.step(action)[4]
        for torque in info["exo_torque_nm"]:
            shaped = shape_step(env.shaping, shaper, float(commands[0]), float(commands[1]))
            np.testing.assert_allclose(torque, [shaped.right_nm, shaped.left_nm])
    assert np.abs(info["exo_torque_nm"]).max() > 1.0


def test_profile_walks_happen_on_the_slope_asked_for(smoke_run, tmp_path):
    from teacher.profile_search import ProfileEpisodeTask, run_profile_episode
    from teacher.training import checkpoint

    digest = checkpoint.CheckpointSummary.read(smoke_run, None).hash
    params = tuple(float(v) for v in PROFILE.as_dict().values())
    level, uphill = (
        run_profile_episode(ProfileEpisodeTask(str(smoke_run), digest, params, 1.25, 1000, 1.5, slope))
        for slope in (0.0, 8.0)
    )
    assert (level.steps, level.positive_power_w_per_kg) != (uphill.steps, uphill.positive_power_w_per_kg)
    out = tmp_path / "search"
    args = ["teacher", "tune-profile", str(smoke_run), "--slope", "8", "--episodes", "1", "--duration", "1.5"]
    assert main([*args, "--population", "2", "--workers", "1", "--generations", "1", "--out", str(out)]) == 0
    history = [json.loads(line) for line in (out / "history.jsonl").read_text().splitlines()]
    assert {h["slope_deg"] for h in history} == {8.0}
