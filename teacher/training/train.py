"""``hipexo teacher train``: Stable-Baselines3 on the walker, read top to bottom.

Envs run in groups in a few worker processes (``GroupedVecEnv``; Ray actors with ``--ray``) behind
``VecNormalize``; the policy acts on a [-1, 1] action scale (``RescaleAction``), which is what SB3's Gaussian
policies expect. One callback does the bookkeeping:
episode summaries for the curriculum, stage switches, checkpoints and the progress bar, all at rollout
boundaries, where the learner's state is complete (policy updated, rollout buffer empty), so that a
resumed run continues exactly from the checkpoint.
"""

from __future__ import annotations

import csv
import dataclasses
import math
import multiprocessing
import shutil
import signal
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import PPO, SAC
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv, VecNormalize
from tqdm import tqdm

from firmware_bridge.config import load_config
from firmware_bridge.config.paths import REPO_ROOT
from teacher.config import SimConfig
from teacher.executor import machine_workers
from teacher.training import checkpoint
from teacher.training.config import FocusConfig, StageConfig, TeacherConfig
from teacher.training.curriculum import Curriculum, EpisodeSummary
from teacher.training.focus import CellFalls, FocusedConditions
from teacher.training.grouped_vec_env import GroupedVecEnv

PROGRESS_FIELDS = (
    "step",
    "wall_s",
    "stage",
    "episodes",
    "fall_rate",
    "joint_tracking",
    "speed_error_m_s",
    "mean_episode_steps",
    "env_steps_per_s",
)
CELL_FIELDS = (
    "step",
    "stage",
    "speed_low_m_s",
    "speed_high_m_s",
    "slope_low_deg",
    "slope_high_deg",
    "episodes",
    "fall_rate",
    "draw_share",
)


def make_env(sim_config: SimConfig) -> Callable[[], gym.Env]:
    def thunk() -> gym.Env:
        from teacher.env import HipExoWalkerEnv

        env = FocusedConditions(HipExoWalkerEnv(sim_config))
        unit = np.ones(env.action_space.shape, dtype=np.float32)
        return gym.wrappers.RescaleAction(env, -unit, unit)

    return thunk


def linear_decay(initial: float) -> Callable[[float], float]:
    """SB3 schedule: ``progress_remaining`` goes 1 → 0 over the run's total steps."""

    def schedule(progress_remaining: float) -> float:
        return initial * progress_remaining

    return schedule


@dataclass
class TrainResult:
    run_dir: Path
    total_steps: int
    wall_s: float
    stage: str
    steps_this_sitting: int
    collect_s: float = 0.0
    """Wall time of this sitting spent collecting rollouts (env steps, policy inference)."""
    update_s: float = 0.0
    """Wall time of this sitting spent in policy updates."""
    stopped_by: int | None = None
    """The stop signal (SIGINT/SIGTERM) that ended the sitting early, if one did."""
    checkpointed: bool = True
    """False when a second stop signal ended it mid-rollout: the last periodic checkpoint is the one kept."""


class TeacherTrainer:
    """One training sitting: fresh or resumed from ``run_dir/checkpoint``."""

    def __init__(self, config_path: Path, run_dir: Path | None = None, resume: bool = False):
        self.config_path = Path(config_path)
        self.config = load_config(self.config_path, TeacherConfig)
        self.run_dir = Path(run_dir) if run_dir else REPO_ROOT / self.config.run_dir
        self.sim_configs = [stage_sim_config(self.config_path.parent, s) for s in self.config.stages]
        self.curriculum = Curriculum(list(self.config.stages))
        self.total_steps = 0
        self.wall_s = 0.0
        self.reset_cell_falls()
        if resume:
            state = checkpoint.read_state(self.run_dir)
            self.curriculum.load_state_dict(state["curriculum"])
            self.total_steps = state["total_steps"]
            self.wall_s = state["wall_s"]
            self.reset_cell_falls()  # the stage's cells
            if "cell_falls" in state:  # checkpoints from before falls were kept per cell have none
                self.cell_falls.load_state_dict(state["cell_falls"])
        elif checkpoint.checkpoint_dir(self.run_dir).exists():
            raise FileExistsError(f"{self.run_dir} already has a checkpoint: pass --resume, or choose another run dir")
        self.resume = resume
        self._init_from = checkpoint.read_state(self.run_dir).get("init_from") if resume else None
        """The run this one was fine-tuned from, by path and checkpoint hash (its identity outlives the path)."""
        if self.config.init_from is not None and not resume:
            source = REPO_ROOT / self.config.init_from
            self._init_from = {"run_dir": self.config.init_from, "sha256": checkpoint.checkpoint_hash(source)}

    # --- setup -------------------------------------------------------------------------------------
    ray_address: str | None = None
    """Ray cluster for the env workers (``--ray``); None: local subprocesses."""

    def _venv(self) -> VecEnv:
        sim = self.sim_configs[self.curriculum.stage]
        thunks = [make_env(sim) for _ in range(self.config.n_envs)]
        if self.config.n_envs > 1 or self.ray_address:  # Ray actors with --ray (docs/cluster.md), else processes
            groups = self.config.n_envs if self.ray_address else (self.config.env_workers or machine_workers())
            venv: VecEnv = GroupedVecEnv(thunks, groups, self.ray_address)
        else:
            venv = DummyVecEnv(thunks)
        venv.seed(self.config.seed + self.total_steps)
        return venv

    def _model(self, venv: VecEnv) -> BaseAlgorithm:
        ckpt = checkpoint.checkpoint_dir(self.run_dir)
        tensorboard = str(self.run_dir / "tb")
        algorithm = PPO if self.config.algorithm == "ppo" else SAC
        if self.resume:
            # the config's update settings apply on resume (a run slowed to a lower lr is resumed with a new config);
            # the optimiser's moments and the policy carry on
            settings = self._ppo_settings() if self.config.algorithm == "ppo" else None
            model = algorithm.load(
                ckpt / checkpoint.MODEL, env=venv, device="cpu", custom_objects=settings, tensorboard_log=tensorboard
            )
            if isinstance(model, SAC) and (ckpt / checkpoint.REPLAY_BUFFER).exists():
                model.load_replay_buffer(ckpt / checkpoint.REPLAY_BUFFER)
            checkpoint.restore_rng(self.run_dir)
            return model
        if self.config.init_from is not None:
            return self._fine_tuned(venv)
        if self.config.algorithm == "ppo":
            p = self.config.ppo
            return PPO(
                "MlpPolicy",
                venv,
                n_steps=p.n_steps,
                batch_size=p.batch_size,
                n_epochs=p.n_epochs,
                learning_rate=p.learning_rate,
                gamma=p.gamma,
                gae_lambda=p.gae_lambda,
                clip_range=p.clip_range,
                ent_coef=p.ent_coef,
                vf_coef=p.vf_coef,
                max_grad_norm=p.max_grad_norm,
                target_kl=p.target_kl,
                policy_kwargs={"net_arch": list(p.net_arch), "log_std_init": p.log_std_init},
                seed=self.config.seed,
                device="cpu",
                tensorboard_log=tensorboard,
            )
        s = self.config.sac
        return SAC(
            "MlpPolicy",
            venv,
            learning_rate=linear_decay(s.learning_rate),
            batch_size=s.batch_size,
            tau=s.tau,
            gamma=s.gamma,
            train_freq=s.train_freq,
            gradient_steps=s.gradient_steps,
            buffer_size=s.buffer_size,
            learning_starts=s.learning_starts,
            policy_kwargs={"net_arch": list(s.net_arch)},
            seed=self.config.seed,
            device="cpu",
            tensorboard_log=tensorboard,
        )

    def _ppo_settings(self) -> dict:
        """This config's PPO update settings, to override those saved in a loaded model."""
        p = self.config.ppo
        return {
            "n_steps": p.n_steps,
            "batch_size": p.batch_size,
            "n_epochs": p.n_epochs,
            "learning_rate": p.learning_rate,
            "lr_schedule": lambda _: p.learning_rate,
            "gamma": p.gamma,
            "gae_lambda": p.gae_lambda,
            "clip_range": lambda _: p.clip_range,
            "ent_coef": p.ent_coef,
            "vf_coef": p.vf_coef,
            "max_grad_norm": p.max_grad_norm,
            "target_kl": p.target_kl,
            "n_envs": self.config.n_envs,
        }

    def _fine_tuned(self, venv: VecEnv) -> PPO:
        """The ``init_from`` teacher's policy with this config's PPO settings (its optimiser state goes: a new
        stage's rewards make its moment estimates stale)."""
        settings = self._ppo_settings()
        source = checkpoint.checkpoint_dir(REPO_ROOT / self.config.init_from) / checkpoint.MODEL
        model = PPO.load(
            source, env=venv, device="cpu", custom_objects=settings, tensorboard_log=str(self.run_dir / "tb")
        )
        model.num_timesteps = 0
        return model

    def setup(self) -> tuple[VecNormalize, BaseAlgorithm]:
        """The normalised vector env and the learner, new or restored from the checkpoint."""
        torch.set_num_threads(self.config.torch_threads)
        # env workers fork from a server that has imported the env once (seconds per worker otherwise)
        multiprocessing.get_context("forkserver").set_forkserver_preload([__name__, "teacher.env"])
        venv = self._venv()
        if self.resume or self.config.init_from is not None:
            source = self.run_dir if self.resume else REPO_ROOT / self.config.init_from
            normaliser = VecNormalize.load(str(checkpoint.checkpoint_dir(source) / checkpoint.NORMALISER), venv)
        else:
            gamma = self.config.ppo.gamma if self.config.algorithm == "ppo" else self.config.sac.gamma
            normaliser = VecNormalize(venv, norm_obs=True, norm_reward=True, clip_obs=10.0, gamma=gamma)
        model = self._model(normaliser)
        if self.config.init_from is not None and not self.resume:
            open_unseen_inputs(normaliser, model)
        return normaliser, model

    # --- the sitting -------------------------------------------------------------------------------
    def train(self, steps: int | None = None, progress: bool = True, seconds: float | None = None) -> TrainResult:
        """Train ``steps`` more env steps (default: up to the config's ``total_steps``), then checkpoint.

        With ``seconds`` the sitting also ends at the first rollout boundary after that much wall time.
        """
        self.run_dir.mkdir(parents=True, exist_ok=True)
        remaining = self.config.total_steps - self.total_steps
        budget = min(steps, remaining) if steps is not None else remaining
        if budget <= 0:
            return TrainResult(self.run_dir, self.total_steps, self.wall_s, self.curriculum.current.name, 0)
        normaliser, model = self.setup()
        callback = _TrainingCallback(self, normaliser, budget, progress, seconds)
        previous_handlers = {s: signal.signal(s, callback.request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            # total_timesteps is what is left of the whole run, so schedules decay over the run, not the sitting;
            # the callback ends the sitting at a rollout boundary once its budget is spent.
            model.learn(total_timesteps=remaining, callback=callback, reset_num_timesteps=False, tb_log_name="run")
            if not callback.finished and not callback.aborted:  # the run's last rollout: learn() returns after it
                callback.finish()
        finally:
            for sig, handler in previous_handlers.items():
                signal.signal(sig, handler)
            callback.close()
            normaliser.close()
        return TrainResult(
            self.run_dir,
            self.total_steps,
            self.wall_s,
            self.curriculum.current.name,
            callback.sitting_steps,
            callback.collect_s,
            callback.update_s,
            callback.stop_signal,
            not callback.aborted,
        )

    def reset_cell_falls(self) -> None:
        """Falls per cell of the current stage's range (its ``focus`` cells, or the default ones, to log)."""
        sim = self.sim_config_for_stage()
        focus = self.curriculum.current.focus or FocusConfig()
        self.cell_falls = CellFalls(focus, sim.speed_range_m_s, sim.slope_range_deg)

    def focus(self) -> tuple[list | None, list | None]:
        """What the envs draw conditions from until the next rollout: cells and probabilities, or uniform."""
        if self.curriculum.current.focus is None:
            return None, None
        return self.cell_falls.cells, self.cell_falls.probabilities().tolist()

    def state(self) -> dict:
        return {
            "total_steps": self.total_steps,
            "wall_s": round(self.wall_s, 1),
            "algorithm": self.config.algorithm,
            "config": str(self.config_path),
            "curriculum": self.curriculum.state_dict(),
            "cell_falls": self.cell_falls.state_dict(),
            "init_from": self._init_from,
            "sim_configs": {
                s.name: dataclasses.asdict(c) for s, c in zip(self.config.stages, self.sim_configs, strict=True)
            },
        }

    def sim_config_for_stage(self) -> SimConfig:
        return self.sim_configs[self.curriculum.stage]


def stage_sim_config(folder: Path, stage: StageConfig) -> SimConfig:
    """A stage's sim config (``stage.sim`` relative to the teacher config's folder) with the stage's overrides."""
    sim = load_config(folder / stage.sim, SimConfig)
    if stage.slope_range_deg is not None:
        sim = dataclasses.replace(sim, slope_range_deg=list(stage.slope_range_deg))
    return sim


def floor_exo_std(model: BaseAlgorithm, std_min: float | None) -> None:
    """Hold the exo commands' exploration std at or above ``std_min`` (PPO's state-independent log std).

    The exo head joins a policy whose std has already narrowed for walking; at that std its commands
    barely move the hip, so it never finds out what assistance earns.
    """
    if std_min is None:
        return
    with torch.no_grad():
        model.policy.log_std[-2:].clamp_(min=math.log(std_min))


def open_unseen_inputs(normaliser: VecNormalize, model: PPO) -> list[int]:
    """Let a fine-tuned policy learn from inputs its source never saw vary (the slope, after level ground).

    Their normaliser variance is ~0, so any change would read as ±clip; it is set to 1 (the observation's
    own scale). Their first-layer weights are zeroed in the policy and value networks, so the fine-tuning
    starts from exactly the source's behaviour (those weights never trained: their input was always 0).
    Returns the indices opened.
    """
    from teacher.policy import UNSEEN_VARIANCE

    unseen = np.flatnonzero(normaliser.obs_rms.var < UNSEEN_VARIANCE)
    if unseen.size:
        normaliser.obs_rms.var[unseen] = 1.0
        with torch.no_grad():
            for net in (model.policy.mlp_extractor.policy_net, model.policy.mlp_extractor.value_net):
                net[0].weight[:, unseen] = 0.0
    return [int(i) for i in unseen]


class _TrainingCallback(BaseCallback):
    def __init__(
        self, trainer: TeacherTrainer, normaliser: VecNormalize, budget: int, progress: bool, seconds: float | None
    ):
        super().__init__()
        self.seconds = seconds
        self.trainer = trainer
        self.normaliser = normaliser
        self.budget = budget
        self.start_steps = trainer.total_steps
        self.sitting_steps = 0
        self.stop_signal: int | None = None
        self.aborted = False
        self.finished = False
        self.last_checkpoint = trainer.total_steps
        self.started = time.perf_counter()
        self.wall_at_start = trainer.wall_s
        self.collect_s = self.update_s = 0.0
        self.phase_started: float | None = None
        n = trainer.config.n_envs
        self.tracking_sum = np.zeros(n)
        self.velocity_sum = np.zeros(n)
        self.metabolic_sum = np.zeros(n)
        self.finished_episodes: list[tuple[bool, float]] = []
        """(fell, mean probe W/kg) of the episodes finished in this rollout, for TensorBoard."""
        self.exo_off_falls: deque[bool] = deque(maxlen=100)
        """Whether each of the recent episodes worn at zero torque (a stage's ``exo_off_share``) fell."""
        self.length = np.zeros(n, dtype=int)
        self.bar = tqdm(
            total=budget, desc=f"teacher [{trainer.curriculum.current.name}]", unit="step", disable=not progress
        )

    def request_stop(self, signum, frame) -> None:
        """SIGINT/SIGTERM: finish the current rollout and checkpoint; a second one stops at the next env step,
        keeping the last checkpoint (a checkpoint mid-rollout would not resume exactly)."""
        if self.stop_signal is not None:
            self.aborted = True
            return
        self.stop_signal = signum
        left = self.model.n_steps - self.model.rollout_buffer.pos if hasattr(self.model, "rollout_buffer") else 0
        tqdm.write(
            f"{signal.Signals(signum).name}: stopping after this rollout ({left} steps per env) to checkpoint; "
            f"signal again to stop now and keep the checkpoint at step {self.last_checkpoint}"
        )

    def _on_step(self) -> bool:
        if self.aborted:
            return False
        infos, dones = self.locals["infos"], self.locals["dones"]
        for i, (info, done) in enumerate(zip(infos, dones, strict=True)):
            self.tracking_sum[i] += info["joint_tracking"]
            self.velocity_sum[i] += info["forward_velocity_m_s"]
            self.metabolic_sum[i] += info["metabolic_w_per_kg"]
            self.length[i] += 1
            if done:
                n = self.length[i]
                fell = not info.get("TimeLimit.truncated", False)
                self.finished_episodes.append((fell, float(self.metabolic_sum[i] / n)))
                if not info["exo_on"]:
                    self.exo_off_falls.append(fell)
                self.trainer.cell_falls.record(info["speed_m_s"], info["slope_deg"], fell)
                self.trainer.curriculum.record(
                    EpisodeSummary(
                        fell=fell,
                        joint_tracking=float(self.tracking_sum[i] / n),
                        speed_error_m_s=float(abs(self.velocity_sum[i] / n - info["speed_m_s"])),
                        length=int(n),
                    )
                )
                self.tracking_sum[i] = self.velocity_sum[i] = self.metabolic_sum[i] = 0.0
                self.length[i] = 0
        self.bar.update(len(dones))
        return not self.finished

    def _on_rollout_end(self) -> None:
        now = time.perf_counter()
        self.collect_s += now - (self.phase_started or self.started)
        self.phase_started = now

    def _on_rollout_start(self) -> None:
        if self.phase_started is not None:  # the policy update since the last rollout ended
            now = time.perf_counter()
            self.update_s += now - self.phase_started
            self.phase_started = now
            self.logger.record("time/update_share", self.update_s / (self.update_s + self.collect_s))
        if self.finished_episodes:
            fell, metabolic = zip(*self.finished_episodes, strict=True)
            self.logger.record("walker/fall_rate", float(np.mean(fell)))
            self.logger.record("walker/metabolic_w_per_kg", float(np.mean(metabolic)))
            self.finished_episodes = []
        else:
            self.phase_started = time.perf_counter()
        trainer = self.trainer
        trainer.total_steps = self.model.num_timesteps
        trainer.wall_s = self.wall_at_start + time.perf_counter() - self.started
        self.sitting_steps = trainer.total_steps - self.start_steps
        curriculum = trainer.curriculum
        if curriculum.ready_to_advance(trainer.total_steps):
            curriculum.advance(trainer.total_steps, trainer.wall_s)
            trainer.reset_cell_falls()
            self.normaliser.env_method("set_sim_config", trainer.sim_config_for_stage())
            self.bar.set_description(f"teacher [{curriculum.current.name}]")
            self._checkpoint()
        floor_exo_std(self.model, curriculum.current.exo_action_std_min)
        self.normaliser.env_method("set_focus", *trainer.focus())
        self.normaliser.env_method("set_exo_off_share", curriculum.current.exo_off_share)
        stats = curriculum.stats()
        if stats is not None:
            postfix = {"fall": f"{stats.fall_rate:.2f}", "track": f"{stats.joint_tracking:.2f}"}
            if self.exo_off_falls:  # a stage's exo_off_share: how the unassisted episodes fare
                postfix["fall_exo_off"] = f"{np.mean(self.exo_off_falls):.2f}"
            self.bar.set_postfix(postfix, refresh=False)
            for key, value in dataclasses.asdict(stats).items():
                self.logger.record(f"curriculum/{key}", value)
            self.logger.record("curriculum/stage", curriculum.stage)
        out_of_time = (  # at a boundary after at least one rollout: a sitting always makes progress
            self.seconds is not None and self.sitting_steps > 0 and time.perf_counter() - self.started >= self.seconds
        )
        if self.sitting_steps >= self.budget or self.stop_signal is not None or out_of_time:
            self.finish()
        elif trainer.total_steps - self.last_checkpoint >= trainer.config.checkpoint_every_steps:
            self._checkpoint()

    def finish(self) -> None:
        """End of the sitting at a rollout boundary: final checkpoint; the next step stops learn()."""
        self.trainer.total_steps = self.model.num_timesteps
        self.sitting_steps = self.trainer.total_steps - self.start_steps
        self.trainer.wall_s = self.wall_at_start + time.perf_counter() - self.started
        self._checkpoint()
        self.finished = True

    def _checkpoint(self) -> None:
        trainer = self.trainer
        saved = checkpoint.save_checkpoint(trainer.run_dir, self.model, self.normaliser, trainer.state())
        if trainer.config.keep_checkpoints:  # each one a run dir of its own, for a paired eval to choose from
            kept = checkpoint.checkpoint_dir(trainer.run_dir / "snapshots" / f"step_{trainer.total_steps}")
            shutil.rmtree(kept, ignore_errors=True)
            shutil.copytree(saved, kept)
        self.last_checkpoint = trainer.total_steps
        self._log_cells()
        stats = trainer.curriculum.stats()
        path = trainer.run_dir / "progress.csv"
        new = not path.exists()
        with path.open("a", newline="") as f:
            writer = csv.writer(f)
            if new:
                writer.writerow(PROGRESS_FIELDS)
            elapsed = time.perf_counter() - self.started
            writer.writerow(
                [
                    trainer.total_steps,
                    round(trainer.wall_s, 1),
                    trainer.curriculum.current.name,
                    *(
                        [stats.episodes, f"{stats.fall_rate:.3f}", f"{stats.joint_tracking:.4f}"]
                        + [f"{stats.speed_error_m_s:.4f}", f"{stats.mean_length:.1f}"]
                        if stats
                        else ["", "", "", "", ""]
                    ),
                    round(self.sitting_steps / elapsed, 1) if elapsed > 0 else "",
                ]
            )

    def _log_cells(self) -> None:
        """``cells.csv``: each cell's recent falls at this checkpoint, and the share of resets drawn from it."""
        trainer, falls = self.trainer, self.trainer.cell_falls
        path = trainer.run_dir / "cells.csv"
        new = not path.exists()
        draws = falls.probabilities() if trainer.curriculum.current.focus else np.full(len(falls.cells), np.nan)
        with path.open("a", newline="") as f:
            writer = csv.writer(f)
            if new:
                writer.writerow(CELL_FIELDS)
            for ((v0, v1), (s0, s1)), n, rate, draw in zip(
                falls.cells, falls.episodes(), falls.fall_rates(), draws, strict=True
            ):
                writer.writerow(
                    [trainer.total_steps, trainer.curriculum.current.name, v0, v1, s0, s1, n]
                    + [f"{rate:.3f}" if n else "", f"{draw:.4f}" if np.isfinite(draw) else ""]
                )

    def close(self) -> None:
        self.bar.close()
