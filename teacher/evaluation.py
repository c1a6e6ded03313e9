"""``hipexo teacher eval``: the teacher over a grid of speeds × slopes, exo off and on, against the reference.

Each episode runs without root support, deterministic actions, and a fixed seed per (condition, episode).
Gait cycles are cut at heel strikes (heel contact force rising through 5 % of body weight) and
time-normalised to 101 points, the way the Fukuchi reference curves are.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from teacher.config import RootSupportConfig
from teacher.executor import Executor
from teacher.sim.reference import MODEL_ANGLE_SIGN, SAMPLES, ReferenceGait

if TYPE_CHECKING:
    from teacher.training.checkpoint import CheckpointSummary

SPEEDS = (0.8, 1.0, 1.25, 1.5)
SLOPES = (-10.0, -5.0, 0.0, 5.0, 10.0)
JOINT_NAMES = ("hip", "knee", "ankle")
HEEL_STRIKE_BW = 0.05


@dataclass
class EpisodeRecord:
    steps: int
    fell: bool
    speed_error_m_s: float
    metabolic_w_per_kg: float
    mean_activation: float
    cycles_right: np.ndarray
    """(n, 101, 5): hip, knee, ankle angle (deg, dataset sign), hip moment (N·m/kg), exo torque (N·m/kg)."""
    cycles_left_exo: np.ndarray
    """(n, 101): left exo torque (N·m/kg) over left gait cycles."""


@dataclass
class ConditionResult:
    speed_m_s: float
    slope_deg: float
    exo: bool
    episodes: int
    fall_rate: float
    speed_error_m_s: float
    metabolic_w_per_kg: float
    mean_activation: float
    cycles: int
    angle_rmse_deg: dict[str, float] = field(default_factory=dict)
    angle_r: dict[str, float] = field(default_factory=dict)
    hip_moment_r: float = float("nan")
    exo_peaks: dict[str, float] = field(default_factory=dict)
    mean_cycle: list[list[float]] | None = None
    """101 × 5 mean right cycle (angles deg, hip moment, exo torque) + left exo in column 5."""


def _cycles(signal: np.ndarray, strikes: list[int]) -> np.ndarray:
    out = []
    for a, b in zip(strikes[:-1], strikes[1:], strict=True):
        if b - a < 10:
            continue
        x = np.linspace(0, b - a, SAMPLES)
        out.append(np.stack([np.interp(x, np.arange(b - a + 1), s[a : b + 1]) for s in signal.T], axis=1))
    return np.array(out) if out else np.zeros((0, SAMPLES, signal.shape[1]))


def _strikes(heel_force: np.ndarray, threshold: float) -> list[int]:
    above = heel_force > threshold
    return [i for i in range(1, len(above)) if above[i] and not above[i - 1]]


def run_episode(teacher, sim_config, speed: float, slope: float, exo: bool, seed: int, seconds: float) -> EpisodeRecord:
    from teacher.env import HipExoWalkerEnv

    config = dataclasses.replace(sim_config, exo_enabled=exo, root_support=RootSupportConfig(), episode_s=seconds)
    env = HipExoWalkerEnv(config)
    mass = env.backend.body_mass_kg
    obs, _ = env.reset(seed=seed, options={"speed_m_s": speed, "slope_deg": slope, "phase": 0.0})
    rows, velocity, metabolic, activation = [], [], [], []
    fell = False
    while True:
        obs, _, terminated, truncated, info = env.step(teacher.act(obs))
        body = env.backend.body_state()
        angles = np.rad2deg(body.joint_angles[1:7].reshape(2, 3)) * MODEL_ANGLE_SIGN
        torque = info["exo_torque_nm"].mean(axis=0) / mass
        rows.append(
            [
                *angles[0],
                body.hip_moments_nm[0] / mass,
                torque[0],
                torque[1],
                body.contact_forces[0],
                body.contact_forces[2],
            ]
        )
        velocity.append(info["forward_velocity_m_s"])
        metabolic.append(info["metabolic_w_per_kg"])
        activation.append(float(env.backend.muscle_state().activation.mean()))
        if terminated or truncated:
            fell = terminated
            break
    data = np.array(rows)
    threshold = HEEL_STRIKE_BW * mass * 9.81
    right = _cycles(data[:, :5], _strikes(data[:, 6], threshold))
    left = _cycles(data[:, 5:6], _strikes(data[:, 7], threshold))
    return EpisodeRecord(
        steps=len(rows),
        fell=fell,
        speed_error_m_s=abs(float(np.mean(velocity)) - speed),
        metabolic_w_per_kg=float(np.mean(metabolic)),
        mean_activation=float(np.mean(activation)),
        cycles_right=right,
        cycles_left_exo=left[:, :, 0] if len(left) else np.zeros((0, SAMPLES)),
    )


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    if np.std(a) < 1e-12 or np.std(b) < 1e-12:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def summarise(
    speed: float, slope: float, exo: bool, episodes: list[EpisodeRecord], reference: ReferenceGait
) -> ConditionResult:
    result = ConditionResult(
        speed_m_s=speed,
        slope_deg=slope,
        exo=exo,
        episodes=len(episodes),
        fall_rate=float(np.mean([e.fell for e in episodes])),
        speed_error_m_s=float(np.mean([e.speed_error_m_s for e in episodes])),
        metabolic_w_per_kg=float(np.mean([e.metabolic_w_per_kg for e in episodes])),
        mean_activation=float(np.mean([e.mean_activation for e in episodes])),
        cycles=sum(len(e.cycles_right) for e in episodes),
    )
    right = np.concatenate([e.cycles_right for e in episodes])
    left = np.concatenate([e.cycles_left_exo for e in episodes])
    if len(right) == 0:
        return result
    mean = right.mean(axis=0)
    ref = reference.curves(speed)
    for k, name in enumerate(JOINT_NAMES):
        result.angle_rmse_deg[name] = float(np.sqrt(np.mean((mean[:, k] - ref[:, k]) ** 2)))
        result.angle_r[name] = _pearson(mean[:, k], ref[:, k])
    result.hip_moment_r = _pearson(mean[:, 3], ref[:, 3])
    left_mean = left.mean(axis=0) if len(left) else np.full(SAMPLES, np.nan)
    for side, profile in (("right", mean[:, 4]), ("left", left_mean)):
        if np.all(np.isfinite(profile)):
            result.exo_peaks[f"{side}_extension_nm_per_kg"] = float(-profile.min())
            result.exo_peaks[f"{side}_extension_at_pct"] = float(np.argmin(profile))
            result.exo_peaks[f"{side}_flexion_nm_per_kg"] = float(profile.max())
            result.exo_peaks[f"{side}_flexion_at_pct"] = float(np.argmax(profile))
    result.mean_cycle = np.column_stack([mean, left_mean]).round(5).tolist()
    return result


@dataclass(frozen=True)
class EpisodeTask:
    """One episode of the grid: everything it depends on, so any worker (local or on a cluster) gives the same."""

    run_dir: str
    checkpoint_hash: str
    """The checkpoint it must find at ``run_dir``; also part of the saved results' key, so a retrained teacher
    never picks up its predecessor's episodes."""
    speed: float
    slope: float
    exo: bool
    seed: int
    seconds: float

    @property
    def label(self) -> str:
        return f"condition {self.speed:g} m/s, {self.slope:g}°, exo {'on' if self.exo else 'off'}, seed {self.seed}"


def run_episode_task(task: EpisodeTask) -> EpisodeRecord:
    from teacher.policy import cached_policy

    teacher = cached_policy(task.run_dir, task.checkpoint_hash)
    return run_episode(teacher, teacher.sim_config, task.speed, task.slope, task.exo, task.seed, task.seconds)


def evaluate(
    teacher: CheckpointSummary,
    executor: Executor,
    speeds=SPEEDS,
    slopes=SLOPES,
    episodes: int = 3,
    seconds: float = 10.0,
    progress: bool = True,
    results_dir: Path | None = None,
) -> list[ConditionResult]:
    """The grid as one task per (condition, exo, episode), so workers share it evenly; summarised here.

    Condition ``i`` (speeds × slopes × exo off/on) seeds its episodes ``1000 i + k``. With ``results_dir``
    finished episodes are kept there and a rerun of the same checkpoint's grid resumes.
    """
    run_dir = str(teacher.run_dir.resolve())  # cluster workers do not share our working directory
    conditions = [(s, sl, exo) for s in speeds for sl in slopes for exo in (False, True)]
    tasks = [
        EpisodeTask(run_dir, teacher.hash, s, sl, exo, 1000 * i + k, seconds)
        for i, (s, sl, exo) in enumerate(conditions)
        for k in range(episodes)
    ]
    records = executor.map(
        run_episode_task,
        tasks,
        labels=[t.label for t in tasks],
        desc="teacher eval",
        progress=progress,
        results_dir=results_dir,
    )
    reference = ReferenceGait(teacher.sim_config.stride_length_at_1_25_m)
    return [
        summarise(s, sl, exo, records[i * episodes : (i + 1) * episodes], reference)
        for i, (s, sl, exo) in enumerate(conditions)
    ]


def reduction_pct(results: list[ConditionResult], speed: float, slope: float) -> float:
    by = {(r.speed_m_s, r.slope_deg, r.exo): r for r in results}
    off, on = by.get((speed, slope, False)), by.get((speed, slope, True))
    if off is None or on is None:
        return float("nan")
    return 100.0 * (off.metabolic_w_per_kg - on.metabolic_w_per_kg) / off.metabolic_w_per_kg


def to_json(results: list[ConditionResult], meta: dict) -> str:
    return json.dumps({"meta": meta, "conditions": [dataclasses.asdict(r) for r in results]}, indent=1, default=float)
