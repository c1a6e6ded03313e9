"""Teacher training config (``kind: teacher``): algorithm, hyperparameters, curriculum stages."""

from __future__ import annotations

from dataclasses import dataclass

from firmware_bridge.config import register_kind
from firmware_bridge.config.schema import spec


@dataclass(frozen=True)
class PpoConfig:
    """The CPU default; per-rollout steps are ``n_steps × n_envs``."""

    n_steps: int = spec(2048, gt=0)
    batch_size: int = spec(512, gt=0)
    n_epochs: int = spec(5, gt=0)
    learning_rate: float = spec(3e-4, gt=0.0)
    gamma: float = spec(0.99, gt=0.0, le=1.0)
    gae_lambda: float = spec(0.95, gt=0.0, le=1.0)
    clip_range: float = spec(0.2, gt=0.0)
    ent_coef: float = spec(0.0, ge=0.0)
    vf_coef: float = spec(0.5, ge=0.0)
    max_grad_norm: float = spec(0.5, gt=0.0)
    target_kl: float | None = spec(None, gt=0.0, doc="stop an update's epochs early past this KL")
    net_arch: list[int] = spec([256, 256])
    log_std_init: float = spec(-1.0, doc="initial exploration noise (log std) on the [-1, 1] action scale")


@dataclass(frozen=True)
class SacConfig:
    """The seed paper's Table III."""

    net_arch: list[int] = spec([512, 512, 256])
    batch_size: int = spec(256, gt=0)
    learning_rate: float = spec(3e-4, gt=0.0, doc="decays linearly to zero over total_steps")
    tau: float = spec(0.02, gt=0.0, le=1.0)
    gamma: float = spec(0.95, gt=0.0, le=1.0)
    train_freq: int = spec(4, gt=0)
    gradient_steps: int = spec(4, gt=0)
    buffer_size: int = spec(1_000_000, gt=0)
    learning_starts: int = spec(10_000, ge=0)


@dataclass(frozen=True)
class AdvanceWhen:
    """Measured criteria over the stage's most recent ``episodes`` training episodes, all required."""

    min_steps: int = spec(0, ge=0)
    episodes: int = spec(50, gt=0)
    fall_rate_max: float = spec(0.1, ge=0.0, le=1.0)
    joint_tracking_min: float = spec(0.5, ge=0.0, le=1.0, doc="mean exp(-gain·err²) of the joint-position term")
    speed_error_max_m_s: float = spec(0.15, gt=0.0)


@dataclass(frozen=True)
class FocusConfig:
    """Draw a stage's conditions where it falls (:mod:`teacher.training.focus`): its speed × slope range in cells,
    each reset's cell uniformly with probability ``1 − share``, else in proportion to the cells' recent fall rates."""

    speed_cells: int = spec(4, gt=0)
    slope_cells: int = spec(4, gt=0)
    share: float = spec(0.5, ge=0.0, le=1.0, doc="share of resets drawn by fall rate (0: uniform)")
    window: int = spec(30, gt=0, doc="recent episodes per cell that its fall rate is taken over")


@dataclass(frozen=True)
class StageConfig:
    name: str
    sim: str
    """Sim config of this stage, relative to the teacher config file."""
    advance_when: AdvanceWhen | None = spec(None, doc="absent on the last stage")
    slope_range_deg: list[float] | None = spec(
        None, length=2, doc="overrides the sim config's slope range: a slope curriculum widens it stage by stage"
    )
    exo_action_std_min: float | None = spec(
        None, gt=0.0, doc="PPO: floor on the two exo commands' exploration std in this stage (held each rollout)"
    )
    focus: FocusConfig | None = spec(
        None,
        doc="draw conditions where the walker falls (absent: uniformly over the ranges; falls per cell are "
        "logged either way)",
    )
    exo_off_share: float = spec(
        0.0,
        ge=0.0,
        le=1.0,
        doc="share of episodes that wear an enabled exo at zero torque, so the walker keeps walking unassisted "
        "(the eval's exo-off half) while it learns to walk with the exo",
    )


@dataclass(frozen=True)
class TeacherConfig:
    stages: list[StageConfig]
    algorithm: str = spec("ppo", choices=("ppo", "sac"))
    seed: int = spec(0)
    n_envs: int = spec(2, gt=0, doc="envs per rollout step; rollout steps are ppo.n_steps × n_envs")
    env_workers: int | None = spec(
        None, gt=0, doc="processes stepping the envs in groups (default: the machine's cores; with --ray, actors)"
    )
    torch_threads: int = spec(
        1, gt=0, doc="the learner's torch threads; more spin-wait against the env workers (docs/benchmarks.md)"
    )
    total_steps: int = spec(30_000_000, gt=0)
    run_dir: str = spec("runs/teacher/default", doc="relative to the repository root")
    checkpoint_every_steps: int = spec(200_000, gt=0)
    keep_checkpoints: bool = spec(
        False, doc="also keep each checkpoint as RUN_DIR/snapshots/step_N (a run dir 'hipexo teacher eval' reads)"
    )
    init_from: str | None = spec(
        None,
        doc="a teacher run directory (relative to the repository root) whose policy and observation normaliser "
        "start this run, which fine-tunes them from its first stage with this config's PPO settings",
    )
    ppo: PpoConfig = spec(PpoConfig())
    sac: SacConfig = spec(SacConfig())

    def validate(self) -> list[str]:
        problems = []
        if not self.stages:
            problems.append("stages: at least one stage is needed")
        for k, stage in enumerate(self.stages[:-1]):
            if stage.advance_when is None:
                problems.append(f"stages[{k}].advance_when: needed on every stage but the last")
        if self.algorithm != "ppo" and any(s.exo_action_std_min is not None for s in self.stages):
            problems.append("stages[].exo_action_std_min: PPO only (SAC's exploration std depends on the state)")
        if self.init_from is not None and self.algorithm != "ppo":
            problems.append("init_from: PPO only")
        if self.algorithm == "ppo" and (self.ppo.n_steps * self.n_envs) % self.ppo.batch_size:
            problems.append("ppo.batch_size: must divide n_steps × n_envs")
        return problems


register_kind("teacher", TeacherConfig)
