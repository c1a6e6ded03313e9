"""The hip profile CMA-ES tunes, the search that scores it paired, and cloning it into a teacher's exo head."""

from __future__ import annotations

import json

import numpy as np
import pytest

from teacher.assistance import HipProfile, ProfileAssisted, profile_at, profile_from_unit, unit_from_profile
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


def test_profiles_tuned_on_slopes_interpolate_between_and_hold_beyond():
    uphill = HipProfile(0.24, 0.1, 0.2, 0.04, 0.45, 0.1)
    profiles = {(1.0, 5.0): uphill, (1.0, 0.0): PROFILE}
    assert profile_at(profiles, 1.0, 0.0) == PROFILE and profile_at(profiles, 1.0, 5.0) == uphill
    assert profile_at(profiles, 1.0, -5.0) == PROFILE and profile_at(profiles, 1.0, 9.0) == uphill
    assert profile_at(profiles, 1.5, 5.0) == uphill and profile_at(profiles, 0.8, 0.0) == PROFILE  # one speed: all
    halfway = profile_at(profiles, 1.0, 2.5)
    assert halfway.extension_nm_per_kg == pytest.approx(0.22) and halfway.flexion_at == pytest.approx(0.5)
    assert profile_at({(1.0, 1.0): uphill}, 1.3, -3.0) == uphill
    with pytest.raises(ValueError):
        profile_at({}, 1.0, 0.0)


def test_a_slope_tuned_at_several_speeds_follows_the_speed_and_leaves_the_other_slopes_alone():
    uphill_fast = HipProfile(0.24, 0.1, 0.2, 0.04, 0.45, 0.1)
    uphill_slow = HipProfile(0.1, 0.0, 0.1, 0.2, 0.6, 0.2)
    profiles = {(1.0, 0.0): PROFILE, (1.0, 5.0): uphill_fast, (0.8, 5.0): uphill_slow}
    assert profile_at(profiles, 0.8, 5.0) == uphill_slow and profile_at(profiles, 0.6, 7.0) == uphill_slow
    assert profile_at(profiles, 1.0, 5.0) == uphill_fast and profile_at(profiles, 1.5, 5.0) == uphill_fast
    assert profile_at(profiles, 0.9, 5.0).extension_nm_per_kg == pytest.approx(0.17)  # halfway in speed
    assert profile_at(profiles, 0.8, 0.0) == PROFILE and profile_at(profiles, 0.8, -5.0) == PROFILE  # level: one
    between = profile_at(profiles, 0.8, 2.5)  # halfway in slope, from the slow uphill profile
    assert between.flexion_nm_per_kg == pytest.approx((PROFILE.flexion_nm_per_kg + 0.2) / 2)


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

    uphill = HipProfile(0.24, 0.1, 0.2, 0.0, 0.5, 0.1)  # extension only: the head must tell the slopes apart
    from teacher.training.clone import clone

    profiles = {(1.25, 0.0): PROFILE, (1.25, 6.0): uphill}
    with pytest.raises(ValueError, match="level ground only"):  # the smoke teacher never saw a slope
        clone(smoke_run, tmp_path / "level", profiles, 0.25, [1.25], [2000], seconds=1.0)
    sloped = _as_if_trained_on_slopes(smoke_run, tmp_path / "sloped")
    result = clone(sloped, tmp_path / "c", profiles, 0.25, [1.25], [2000, 2001], seconds=1.0, epochs=400)
    assert result.exo_rmse < 0.05 and result.muscle_rmse < 0.05
    from teacher.policy import TeacherPolicy

    cloned = TeacherPolicy(tmp_path / "c")
    data = __import__("pickle").loads((tmp_path / "c" / "clone_data.pkl").read_bytes())
    commands = np.array([cloned.act(o)[-2:] for o in data["observations"]])
    assert set(data["slopes_deg"]) == {0.0, 6.0}
    for slope in (0.0, 6.0):
        walked = data["slopes_deg"] == slope
        assert np.sqrt(np.mean((commands[walked] - data["commands"][walked]) ** 2)) < 0.05
    uphill_walks = data["slopes_deg"] == 6.0
    assert (
        data["commands"][uphill_walks].max() <= 1e-6 < data["commands"][~uphill_walks].max()
    )  # uphill: extension only
    assert commands[uphill_walks].max() < 0.1 < commands[~uphill_walks].max()  # and the head learnt the difference
    state = json.loads((tmp_path / "c" / "checkpoint" / "state.json").read_text())
    assert state["cloned_profile"]["profiles"] == [
        {"speed_m_s": 1.25, "slope_deg": 0.0, **PROFILE.as_dict()},
        {"speed_m_s": 1.25, "slope_deg": 6.0, **uphill.as_dict()},
    ]
    assert state["cloned_profile"]["slopes"] == [0.0, 6.0]
    assert cloned.sim_config.exo_enabled and cloned.sim_config.exo_driver == "policy"  # its head drives the exo

    (tmp_path / "level.json").write_text(json.dumps({"speed_m_s": 1.0, "slope_deg": 0.0, **PROFILE.as_dict()}))
    (tmp_path / "again.json").write_text(json.dumps({"speed_m_s": 1.0, "slope_deg": 0.0, **uphill.as_dict()}))
    clone_args = ["teacher", "clone-profile", str(smoke_run), "--profile", str(tmp_path / "level.json")]
    assert main([*clone_args, str(tmp_path / "again.json"), "--out", str(tmp_path / "d")]) != 0  # two for one condition
    assert not (tmp_path / "d").exists()


def _as_if_trained_on_slopes(run_dir, out):
    """A copy of ``run_dir`` whose observation normaliser saw slopes (±5°, as a slope run's does)."""
    import pickle
    import shutil

    from teacher.env.walker import slope_index
    from teacher.policy import TeacherPolicy
    from teacher.training import checkpoint

    shutil.copytree(run_dir, out)
    path = checkpoint.checkpoint_dir(out) / checkpoint.NORMALISER
    normaliser = pickle.loads(path.read_bytes())
    index = slope_index(TeacherPolicy(out).sim_config)
    normaliser.obs_rms.mean[index], normaliser.obs_rms.var[index] = 0.0, 0.3**2 / 3
    normaliser.__dict__.update(venv=None, class_attributes={}, returns=None)  # what VecNormalize drops to pickle
    path.write_bytes(pickle.dumps(normaliser))
    return out


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
