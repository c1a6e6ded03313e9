"""Teacher training at smoke size: curriculum stage switch, checkpoints that resume, SIGTERM, the policy loader."""

from __future__ import annotations

import csv
import json
import os
import pickle
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from firmware_bridge.config.paths import CONFIG_DIR
from teacher.env import HipExoWalkerEnv
from teacher.policy import TeacherPolicy
from teacher.training import checkpoint
from teacher.training.config import StageConfig
from teacher.training.curriculum import Curriculum, EpisodeSummary
from teacher.training.train import TeacherTrainer
from tools.cli import main

SMOKE = CONFIG_DIR / "teacher" / "smoke.yaml"


def test_smoke_run_checkpoints_and_switches_stage_on_its_criteria(smoke_run):
    state = checkpoint.read_state(smoke_run)
    assert state["total_steps"] == 2048
    assert state["curriculum"]["stage_name"] == "assist"
    (transition,) = state["curriculum"]["transitions"]
    assert transition["from"] == "walk" and transition["at_step"] >= 1024 and transition["stats"]["episodes"] >= 2
    assert set(state["sim_configs"]) == {"walk", "assist"}
    rows = list(csv.DictReader((smoke_run / "progress.csv").open()))
    assert [int(r["step"]) for r in rows][-1] == 2048
    for name in (checkpoint.MODEL, checkpoint.NORMALISER, checkpoint.RNG, checkpoint.STATE):
        assert (checkpoint.checkpoint_dir(smoke_run) / name).is_file()


def test_the_assist_stage_holds_the_exo_exploration_floor_and_leaves_the_muscles_alone(smoke_run):
    log_std = TeacherPolicy(smoke_run).model.policy.log_std.detach().numpy()
    assert np.all(log_std[-2:] >= np.log(0.25) - 1e-6)  # smoke.yaml's assist floor, raised from -2.5
    assert np.all(log_std[:-2] < -2.0)  # the muscles keep the walking std


def test_resume_restores_the_learner_exactly_and_continues_counting(smoke_run, tmp_path):
    run_dir = tmp_path / "copy"
    subprocess.run(["cp", "-r", str(smoke_run), str(run_dir)], check=True)
    saved = TeacherPolicy(run_dir)
    with open(checkpoint.checkpoint_dir(run_dir) / checkpoint.NORMALISER, "rb") as f:
        saved_normaliser = pickle.load(f)
    trainer = TeacherTrainer(SMOKE, run_dir, resume=True)
    normaliser, model = trainer.setup()
    try:
        for a, b in zip(model.policy.state_dict().values(), saved.model.policy.state_dict().values(), strict=True):
            assert torch.equal(a, b)
        opt_saved = saved.model.policy.optimizer.state_dict()["state"]
        opt_loaded = model.policy.optimizer.state_dict()["state"]
        assert opt_loaded.keys() == opt_saved.keys() and len(opt_loaded) > 0
        for k in opt_saved:
            assert torch.equal(opt_loaded[k]["exp_avg"], opt_saved[k]["exp_avg"])
        np.testing.assert_array_equal(normaliser.obs_rms.mean, saved_normaliser.obs_rms.mean)
        np.testing.assert_array_equal(normaliser.ret_rms.var, saved_normaliser.ret_rms.var)
        assert saved_normaliser.obs_rms.count > 2000
        assert model.num_timesteps == 2048
        assert trainer.curriculum.current.name == "assist"
    finally:
        normaliser.close()
    result = TeacherTrainer(SMOKE, run_dir, resume=True).train(steps=1024, progress=False)
    assert result.total_steps == 3072 and result.steps_this_sitting == 1024
    assert checkpoint.read_state(run_dir)["curriculum"]["transitions"][0]["at_step"] >= 1024


def test_resume_with_a_new_config_applies_its_update_settings_and_keeps_the_optimiser(smoke_run, tmp_path):
    """A run slowed down is resumed with a config of lower lr: the saved model's own lr must not win."""
    run_dir = tmp_path / "copy"
    subprocess.run(["cp", "-r", str(smoke_run), str(run_dir)], check=True)
    config = tmp_path / "slower.yaml"
    sims = CONFIG_DIR / "sim"
    config.write_text(
        f"kind: teacher\nextends: {SMOKE}\n"
        "ppo: {n_steps: 512, batch_size: 256, n_epochs: 2, net_arch: [64, 64], learning_rate: 1.0e-5, clip_range: 0.05}\n"
        f"stages:\n  - name: walk\n    sim: {sims / 'default.yaml'}\n"
        "    advance_when: {min_steps: 1024, episodes: 2, fall_rate_max: 1.0}\n"
        f"  - name: assist\n    sim: {sims / 'assist.yaml'}\n    exo_action_std_min: 0.25\n"
    )
    saved = TeacherPolicy(run_dir).model
    assert saved.learning_rate != 1.0e-5
    trainer = TeacherTrainer(config, run_dir, resume=True)
    normaliser, model = trainer.setup()
    try:
        assert model.learning_rate == 1.0e-5 and model.lr_schedule(1.0) == 1.0e-5 and model.clip_range(1.0) == 0.05
        opt_saved = saved.policy.optimizer.state_dict()["state"]
        for k, v in model.policy.optimizer.state_dict()["state"].items():
            assert torch.equal(v["exp_avg"], opt_saved[k]["exp_avg"])
    finally:
        normaliser.close()
    TeacherTrainer(config, run_dir, resume=True).train(steps=1024, progress=False)
    resumed = TeacherPolicy(run_dir).model
    assert [g["lr"] for g in resumed.policy.optimizer.param_groups] == [1.0e-5]


def test_a_wall_time_budget_ends_the_sitting_at_the_next_rollout_and_splits_its_time(smoke_run, tmp_path):
    run_dir = tmp_path / "copy"
    subprocess.run(["cp", "-r", str(smoke_run), str(run_dir)], check=True)
    result = TeacherTrainer(SMOKE, run_dir, resume=True).train(progress=False, seconds=0.01)
    assert result.steps_this_sitting == 1024  # one rollout (512 × 2 envs) of the 2048 steps left, then it stops
    assert result.collect_s > 0.0 and result.update_s > 0.0  # the rollout, and the update after it
    assert checkpoint.read_state(run_dir)["total_steps"] == 3072


def test_a_fresh_run_refuses_to_overwrite_and_resume_needs_a_checkpoint(smoke_run, tmp_path, capsys):
    assert main(["teacher", "train", "--config", str(SMOKE), "--out", str(smoke_run), "--steps", "1"]) == 2
    assert "already has a checkpoint" in capsys.readouterr().err
    assert main(["teacher", "train", "--config", str(SMOKE), "--out", str(tmp_path / "none"), "--resume"]) == 2
    assert "no teacher checkpoint" in capsys.readouterr().err


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_stop_signal_to_the_group_ends_the_sitting_at_a_rollout_boundary_with_a_checkpoint(tmp_path, signum):
    """As a terminal's Ctrl-C or systemd's stop sends it: to every process of the group, env workers included."""
    run_dir = tmp_path / "run"
    command = [sys.executable, "-m", "tools.cli", "teacher", "train", "--config", str(SMOKE), "--out", str(run_dir)]
    process = subprocess.Popen(
        [*command, "--steps", "100000", "--no-progress"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while not (run_dir / "progress.csv").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    sent = time.monotonic()
    os.killpg(process.pid, signum)
    output, _ = process.communicate(timeout=120)
    assert time.monotonic() - sent < 10.0, "one smoke rollout (1024 steps) and a checkpoint"
    assert process.returncode == 128 + signum, output
    assert "Traceback" not in output and "continue with --resume" in output, output
    steps = checkpoint.read_state(run_dir)["total_steps"]
    assert 1024 <= steps < 100000 and steps % 1024 == 0, "stops at a rollout boundary"
    assert sorted(p.name for p in run_dir.iterdir() if p.name.startswith(".")) == [], "no partial checkpoint left"


def test_teacher_policy_drives_the_env_in_its_own_action_space(smoke_run):
    teacher = TeacherPolicy(smoke_run)
    env = HipExoWalkerEnv(teacher.sim_config)
    obs, _ = env.reset(seed=1)
    for _ in range(5):
        action = teacher.act(obs)
        assert env.action_space.contains(action.astype(np.float32))
        obs, *_ = env.step(action)
    assert teacher.stage == "assist" and env.config.exo_enabled
    assert len(teacher.hash) == 64


def test_curriculum_needs_every_criterion_and_survives_a_round_trip():
    from teacher.training.config import AdvanceWhen

    rule = AdvanceWhen(min_steps=100, episodes=3, fall_rate_max=0.34, joint_tracking_min=0.5, speed_error_max_m_s=0.2)
    curriculum = Curriculum([StageConfig("walk", "a.yaml", rule), StageConfig("assist", "b.yaml")])
    good = EpisodeSummary(fell=False, joint_tracking=0.8, speed_error_m_s=0.05, length=500)
    for _ in range(2):
        curriculum.record(good)
    assert not curriculum.ready_to_advance(1000), "too few episodes"
    curriculum.record(EpisodeSummary(fell=True, joint_tracking=0.8, speed_error_m_s=0.05, length=20))
    assert curriculum.ready_to_advance(1000) and not curriculum.ready_to_advance(50), "min_steps"
    curriculum.record(EpisodeSummary(fell=True, joint_tracking=0.8, speed_error_m_s=0.05, length=20))
    assert not curriculum.ready_to_advance(1000), "2 falls in the last 3 episodes"
    for _ in range(3):
        curriculum.record(EpisodeSummary(fell=False, joint_tracking=0.4, speed_error_m_s=0.05, length=500))
    assert not curriculum.ready_to_advance(1000), "tracking too poor"
    restored = Curriculum(curriculum.stages)
    restored.load_state_dict(json.loads(json.dumps(curriculum.state_dict())))
    assert restored.stats() == curriculum.stats()
    with pytest.raises(ValueError, match="do not have there"):
        Curriculum([StageConfig("other", "a.yaml", rule), StageConfig("x", "b.yaml")]).load_state_dict(
            curriculum.state_dict()
        )


def test_shipped_teacher_config_is_valid_and_long():
    from firmware_bridge.config import load_config
    from teacher.training.config import TeacherConfig

    config = load_config(CONFIG_DIR / "teacher" / "default.yaml", TeacherConfig)
    assert config.total_steps >= 10_000_000 and [s.name for s in config.stages] == ["walk", "assist", "slopes"]
    assert config.sac.net_arch == [512, 512, 256] and config.sac.tau == 0.02 and config.sac.gamma == 0.95
    assert os.fspath(config.run_dir).startswith("models/teacher")


def test_a_run_fine_tuned_from_another_starts_from_its_policy_and_keeps_every_checkpoint(smoke_run, tmp_path):
    """init_from: the source's policy and normaliser, this config's PPO settings and stages, its own step count;
    keep_checkpoints: each checkpoint stays readable as a run dir of its own."""
    config = tmp_path / "fine_tune.yaml"
    config.write_text(
        f"kind: teacher\nextends: {SMOKE}\ninit_from: {smoke_run}\nkeep_checkpoints: true\ntotal_steps: 2048\n"
        "ppo: {n_steps: 512, batch_size: 256, n_epochs: 2, net_arch: [64, 64], learning_rate: 1.0e-4}\n"
        "stages:\n  - name: assist\n    sim: " + str(CONFIG_DIR / "sim" / "assist.yaml") + "\n"
    )
    trainer = TeacherTrainer(config, tmp_path / "run")
    normaliser, model = trainer.setup()
    source = TeacherPolicy(smoke_run)
    # inputs that never varied in the source (the smoke run walks level ground: the slope) are opened: unit
    # variance, zero first-layer weights; every other weight is the source's
    unseen = np.flatnonzero(source._unseen)
    assert unseen.size and np.all(normaliser.obs_rms.var[unseen] == 1.0)
    for (name, mine), theirs in zip(model.policy.named_parameters(), source.model.policy.parameters(), strict=True):
        if name in ("mlp_extractor.policy_net.0.weight", "mlp_extractor.value_net.0.weight"):
            assert torch.all(mine[:, unseen] == 0.0)
            seen = np.setdiff1d(np.arange(mine.shape[1]), unseen)
            assert torch.equal(mine[:, seen], theirs[:, seen])
        else:
            assert torch.equal(mine, theirs)
    # so on a slope the fine-tuning starts from the source's own actions
    observation = normaliser.obs_rms.mean.astype(np.float32)
    observation[unseen] = 0.5
    fine_tuned, _ = model.predict(normaliser.normalize_obs(observation), deterministic=True)
    np.testing.assert_allclose(
        source._env_low + (np.clip(fine_tuned, -1, 1) + 1.0) * 0.5 * (source._env_high - source._env_low),
        source.act(observation),
        atol=1e-6,
    )
    np.testing.assert_array_equal(
        normaliser.obs_rms.mean,
        pickle.loads((checkpoint.checkpoint_dir(smoke_run) / checkpoint.NORMALISER).read_bytes()).obs_rms.mean,
    )
    assert model.num_timesteps == 0 and model.learning_rate == 1.0e-4 and model.n_steps == 512
    normaliser.close()
    result = trainer.train(progress=False)
    assert result.total_steps == 2048 and result.stage == "assist"
    state = checkpoint.read_state(tmp_path / "run")
    assert state["init_from"] == {"run_dir": str(smoke_run), "sha256": checkpoint.checkpoint_hash(smoke_run)}
    kept = sorted(p.name for p in (tmp_path / "run" / "snapshots").iterdir())
    assert kept == ["step_1024", "step_2048"]
    assert checkpoint.CheckpointSummary.read(tmp_path / "run" / "snapshots" / "step_1024").total_steps == 1024


def test_a_slope_curriculum_widens_the_range_stage_by_stage_and_may_refine_the_prior_settings(tmp_path):
    """Stages override the sim config's slope range; a running env takes new slope settings for the prior
    (they do not change the policy's interface) but still refuses new prior gains."""
    import dataclasses

    from teacher.config import SlopeSetting
    from teacher.training.train import stage_sim_config

    config = TeacherTrainer(CONFIG_DIR / "teacher" / "slopes.yaml", tmp_path / "run")
    ranges = [sim.slope_range_deg for sim in config.sim_configs]
    assert ranges == [[-5.0, 5.0], [-7.5, 7.5], [-10.0, 10.0]]
    assert all(sim.tracking_prior.slopes for sim in config.sim_configs)
    plain = stage_sim_config(CONFIG_DIR / "teacher", StageConfig(name="x", sim="../sim/slopes.yaml"))
    assert plain.slope_range_deg == [-10.0, 10.0]

    env = HipExoWalkerEnv(config.sim_configs[0])
    prior = env.config.tracking_prior
    refined = dataclasses.replace(prior, slopes=[*prior.slopes, SlopeSetting(slope_deg=10.0, trunk_lean_rad=0.4)])
    env.set_sim_config(dataclasses.replace(env.config, tracking_prior=refined))
    assert env.config.tracking_prior.slopes[-1].slope_deg == 10.0
    stiffer = dataclasses.replace(refined, residual_scale=0.25)
    with pytest.raises(ValueError, match="tracking_prior"):
        env.set_sim_config(dataclasses.replace(env.config, tracking_prior=stiffer))
