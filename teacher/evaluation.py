"""``hipexo teacher eval``: the teacher over a grid of speeds × slopes, exo on against exo worn at zero torque.

Every figure about the exo is **paired**: condition ``i`` walks seeds ``1000 i + k`` with the exo on and with it
worn but commanded zero, and each seed's episode differs (the env jitters the start phase and joint velocities
from the seed). Reductions are the mean over the seeds where neither walk fell of the per-seed reduction, with
its standard error. Episodes run without root support, with deterministic actions.

Strides are cut at heel strikes: the heel force rising through 5 % of body weight for the first time after a
swing, the whole foot (heel and toes) below that for at least 20 % of the reference stride time. A plain
threshold cuts ~2 "cycles" per stride: the heel bounces after each strike (impact ~1.6 BW, both feet briefly
airborne), and late in stance it can touch again while the toes push off. A refractory period after each rise
does not do: where a walk starts in stance, it hides the first true strike and locks onto the late touches
(half a cycle off) for the whole walk. Only whole strides count, those lasting within ±30 % of the reference
stride time; the metabolic, activation and power figures are averaged over the span they cover.
Strides are time-normalised to 101 points, the way the Fukuchi reference curves are.
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
from teacher.sim.metabolics import fibre_work_w
from teacher.sim.reference import MODEL_ANGLE_SIGN, MODEL_MOMENT_SIGN, SAMPLES, ReferenceGait

if TYPE_CHECKING:
    from teacher.training.checkpoint import CheckpointSummary

SPEEDS = (0.8, 1.0, 1.25, 1.5)
SLOPES = (-10.0, -5.0, 0.0, 5.0, 10.0)
JOINT_NAMES = ("hip", "knee", "ankle")
CHANNELS = ("hip_angle", "knee_angle", "ankle_angle", "hip_moment", "knee_moment", "ankle_moment", "exo")
"""Per side and control step: angles (deg) and net moments (muscles + exo, N·m/kg) in the dataset's signs, and
the exo torque (N·m/kg, flexion +)."""
SIDES = ("right", "left")
HEEL_STRIKE_BW = 0.05
SWING_SHARE = 0.2
STRIDE_TOLERANCE = 0.3
ANALYSIS_VERSION = 2
"""Bump when what an :class:`EpisodeRecord` holds or how its strides are cut changes (2: strikes after a swing)."""


def heel_strikes(heel_force: np.ndarray, foot_force: np.ndarray, threshold: float, swing_steps: int) -> list[int]:
    """Samples where the heel force rises through ``threshold`` for the first time after a swing: ``foot_force``
    (heel and toes) below ``threshold`` for at least ``swing_steps`` samples in a row. The heel's bounce and its
    late-stance touches follow no swing."""
    above = heel_force > threshold
    unloaded = foot_force <= threshold
    strikes: list[int] = []
    run, swung = 0, False
    for i in range(len(heel_force)):
        run = run + 1 if unloaded[i] else 0
        swung |= run >= swing_steps
        if swung and i > 0 and above[i] and not above[i - 1]:
            strikes.append(i)
            swung = False
    return strikes


def whole_strides(strikes: list[int], expected_steps: float) -> list[tuple[int, int]]:
    """Consecutive strikes (start, end) a whole stride apart: within ±``STRIDE_TOLERANCE`` of ``expected_steps``."""
    return [
        (a, b)
        for a, b in zip(strikes[:-1], strikes[1:], strict=True)
        if abs(b - a - expected_steps) <= STRIDE_TOLERANCE * expected_steps
    ]


def time_normalise(signal: np.ndarray, strides: list[tuple[int, int]]) -> np.ndarray:
    """(strides, 101, channels): each stride of ``signal`` (time, channels) resampled to 101 points."""
    out = []
    for a, b in strides:
        x = np.linspace(0, b - a, SAMPLES)
        out.append(np.stack([np.interp(x, np.arange(b - a + 1), s[a : b + 1]) for s in signal.T], axis=1))
    return np.array(out) if out else np.zeros((0, SAMPLES, signal.shape[1]))


@dataclass
class EpisodeRecord:
    seed: int
    steps: int
    fell: bool
    speed_error_m_s: float
    metabolic_w_per_kg: float
    """Probe, mean over the right leg's whole strides (NaN without any)."""
    mean_activation: float
    positive_power_w_per_kg: float
    """Positive mechanical power of the muscles at the six leg joints (Σ max(0, τ·ω)), per kg of body mass."""
    strikes: tuple[int, int]
    """Heel strikes detected (right, left)."""
    cycles: dict[str, np.ndarray]
    """Per side, (whole strides, 101, ``CHANNELS``)."""
    net_work_j_per_kg_m: float = float("nan")
    """Net mechanical work of the muscles at the six leg joints per metre walked, over the right leg's whole
    strides (NaN without any; episodes cached before it was kept read NaN). On a slope, lifting the body asks
    g·sin(slope) of it; on level ground it is what the gait loses elsewhere (contacts, joint limits)."""
    fibre_work_w_per_kg: tuple[float, float] = (float("nan"), float("nan"))
    """Muscle fibres' shortening (positive) and lengthening (negative) work rates over the right leg's whole strides,
    per kg of body mass (:func:`teacher.sim.metabolics.fibre_work_w`)."""


def run_episode(teacher, sim_config, speed: float, slope: float, exo: bool, seed: int, seconds: float) -> EpisodeRecord:
    """One evaluation walk: ``teacher.act`` on the privileged observation; ``exo=False`` wears it at zero torque."""
    from teacher.env import HipExoWalkerEnv

    config = dataclasses.replace(sim_config, exo_enabled=exo, root_support=RootSupportConfig(), episode_s=seconds)
    env = HipExoWalkerEnv(config)
    mass = env.backend.body_mass_kg
    obs, _ = env.reset(seed=seed, options={"speed_m_s": speed, "slope_deg": slope, "phase": 0.0})
    channels, feet, velocity, metabolic, activation, power, net_power = [], [], [], [], [], [], []
    shortening, lengthening = [], []
    fell = False
    while True:
        obs, _, terminated, truncated, info = env.step(teacher.act(obs))
        body = env._body
        exo_nm = info["exo_torque_nm"].mean(axis=0)
        angles = np.rad2deg(body.joint_angles[1:7].reshape(2, 3)) * MODEL_ANGLE_SIGN
        moments = body.joint_moments_nm.reshape(2, 3) / mass * MODEL_MOMENT_SIGN
        channels.append(np.column_stack([angles, moments, exo_nm / mass]))
        feet.append(body.contact_forces)  # heel, toes; right then left
        muscle_moments = body.joint_moments_nm.reshape(2, 3).copy()
        muscle_moments[:, 0] -= env._applied_torque_nm  # the exo's share of the hip moment is not muscle work
        joint_power = muscle_moments.reshape(-1) * body.joint_velocities[1:7] / mass
        power.append(np.maximum(joint_power, 0.0).sum())
        net_power.append(joint_power.sum())
        positive, negative = fibre_work_w(env._muscles)
        shortening.append(positive / mass)
        lengthening.append(negative / mass)
        velocity.append(info["forward_velocity_m_s"])
        metabolic.append(info["metabolic_w_per_kg"])
        activation.append(float(env._muscles.activation.mean()))
        if terminated or truncated:
            fell = terminated
            break
    data, feet = np.array(channels), np.array(feet).reshape(-1, 2, 2)  # (steps, side, channel), (steps, side, part)
    expected = env.reference.stride_time_s(speed) * sim_config.control_rate_hz
    threshold = HEEL_STRIKE_BW * mass * 9.81
    strikes = [
        heel_strikes(feet[:, s, 0], feet[:, s].sum(axis=1), threshold, round(SWING_SHARE * expected)) for s in range(2)
    ]
    strides = [whole_strides(s, expected) for s in strikes]
    span = slice(strides[0][0][0], strides[0][-1][1]) if strides[0] else slice(0, 0)

    def over_strides(values: list[float]) -> float:
        return float(np.mean(values[span])) if strides[0] else float("nan")

    return EpisodeRecord(
        seed=seed,
        steps=len(data),
        fell=fell,
        speed_error_m_s=abs(float(np.mean(velocity)) - speed),
        metabolic_w_per_kg=over_strides(metabolic),
        mean_activation=over_strides(activation),
        positive_power_w_per_kg=over_strides(power),
        strikes=(len(strikes[0]), len(strikes[1])),
        cycles={side: time_normalise(data[:, s], strides[s]) for s, side in enumerate(SIDES)},
        net_work_j_per_kg_m=over_strides(net_power) / over_strides(velocity) if strides[0] else float("nan"),
        fibre_work_w_per_kg=(over_strides(shortening), over_strides(lengthening)),
    )


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    if np.std(a) < 1e-12 or np.std(b) < 1e-12:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def _mean_se(values: list[float]) -> tuple[float, float]:
    values = [v for v in values if np.isfinite(v)]
    if not values:
        return float("nan"), float("nan")
    se = float(np.std(values, ddof=1) / np.sqrt(len(values))) if len(values) > 1 else float("nan")
    return float(np.mean(values)), se


@dataclass
class ConditionResult:
    speed_m_s: float
    slope_deg: float
    exo: bool
    episodes: int
    fall_rate: float
    speed_error_m_s: float
    metabolic_w_per_kg: float
    """Mean over the episodes that did not fall."""
    metabolic_se_w_per_kg: float
    mean_activation: float
    positive_power_w_per_kg: float
    strides: int
    """Whole right strides, all episodes."""
    strikes_per_stride: float
    """Right heel strikes detected after each episode's first, per whole stride: 1 when every strike ends a whole
    stride, 2 when the heel's bounce is taken for a strike."""
    net_work_j_per_kg_m: float = float("nan")
    """Mean over the episodes that did not fall (:attr:`EpisodeRecord.net_work_j_per_kg_m`)."""
    fibre_work_w_per_kg: tuple[float, float] = (float("nan"), float("nan"))
    """Means over the episodes that did not fall (:attr:`EpisodeRecord.fibre_work_w_per_kg`)."""
    angle_r: dict[str, float] = field(default_factory=dict)
    """Per side and joint (``right_hip``, …): Pearson r of the mean stride against Fukuchi at this speed."""
    angle_rmse_deg: dict[str, float] = field(default_factory=dict)
    moment_r: dict[str, float] = field(default_factory=dict)
    moment_rmse_nm_per_kg: dict[str, float] = field(default_factory=dict)
    exo_peaks: dict[str, float] = field(default_factory=dict)
    """Per side: extension and flexion peak magnitudes (N·m/kg) and where they fall (% of that side's cycle)."""
    mean_cycle: dict[str, list[list[float]]] = field(default_factory=dict)
    """Per side, the 101 × ``CHANNELS`` mean stride."""


@dataclass
class PairedResult:
    """Exo on against exo at zero torque, same seeds: per-seed reductions (%) over pairs where neither fell."""

    speed_m_s: float
    slope_deg: float
    episodes: int
    pairs: int
    falls_off: int
    falls_on: int
    reduction_pct: float
    reduction_se_pct: float
    activation_reduction_pct: float
    activation_reduction_se_pct: float
    positive_power_reduction_pct: float
    positive_power_reduction_se_pct: float


def summarise(
    speed: float, slope: float, exo: bool, episodes: list[EpisodeRecord], reference: ReferenceGait
) -> ConditionResult:
    standing = [e for e in episodes if not e.fell]
    strides = sum(len(e.cycles["right"]) for e in episodes)
    metabolic, metabolic_se = _mean_se([e.metabolic_w_per_kg for e in standing])
    result = ConditionResult(
        speed_m_s=speed,
        slope_deg=slope,
        exo=exo,
        episodes=len(episodes),
        fall_rate=float(np.mean([e.fell for e in episodes])),
        speed_error_m_s=float(np.mean([e.speed_error_m_s for e in episodes])),
        metabolic_w_per_kg=metabolic,
        metabolic_se_w_per_kg=metabolic_se,
        mean_activation=_mean_se([e.mean_activation for e in standing])[0],
        positive_power_w_per_kg=_mean_se([e.positive_power_w_per_kg for e in standing])[0],
        strides=strides,
        strikes_per_stride=sum(e.strikes[0] - 1 for e in episodes) / strides if strides else float("nan"),
        net_work_j_per_kg_m=_mean_se([e.net_work_j_per_kg_m for e in standing])[0],
        fibre_work_w_per_kg=tuple(_mean_se([e.fibre_work_w_per_kg[k] for e in standing])[0] for k in range(2)),
    )
    ref = reference.curves(speed)
    for side in SIDES:
        cycles = np.concatenate([e.cycles[side] for e in episodes])
        if len(cycles) == 0:
            continue
        mean = cycles.mean(axis=0)
        for k, joint in enumerate(JOINT_NAMES):
            key = f"{side}_{joint}"
            result.angle_r[key] = _pearson(mean[:, k], ref[:, k])
            result.angle_rmse_deg[key] = float(np.sqrt(np.mean((mean[:, k] - ref[:, k]) ** 2)))
            result.moment_r[key] = _pearson(mean[:, 3 + k], ref[:, 3 + k])
            result.moment_rmse_nm_per_kg[key] = float(np.sqrt(np.mean((mean[:, 3 + k] - ref[:, 3 + k]) ** 2)))
        exo_profile = mean[:, 6]
        result.exo_peaks[f"{side}_extension_nm_per_kg"] = float(max(-exo_profile.min(), 0.0))
        result.exo_peaks[f"{side}_extension_at_pct"] = float(np.argmin(exo_profile))
        result.exo_peaks[f"{side}_flexion_nm_per_kg"] = float(max(exo_profile.max(), 0.0))
        result.exo_peaks[f"{side}_flexion_at_pct"] = float(np.argmax(exo_profile))
        result.mean_cycle[side] = mean.round(5).tolist()
    return result


def pair(speed: float, slope: float, off: list[EpisodeRecord], on: list[EpisodeRecord]) -> PairedResult:
    """Per-seed reductions: ``off[k]`` and ``on[k]`` walked the same seed."""
    assert [e.seed for e in off] == [e.seed for e in on], "paired episodes must share their seeds"
    both = [
        (a, b)
        for a, b in zip(off, on, strict=True)
        if not (a.fell or b.fell) and np.isfinite(a.metabolic_w_per_kg) and np.isfinite(b.metabolic_w_per_kg)
    ]  # a walk that neither fell nor made a whole stride has no figures to pair

    def reduction(metric: str) -> tuple[float, float]:
        return _mean_se([100.0 * (getattr(a, metric) - getattr(b, metric)) / getattr(a, metric) for a, b in both])

    metabolic, activation, power = (
        reduction(m) for m in ("metabolic_w_per_kg", "mean_activation", "positive_power_w_per_kg")
    )
    return PairedResult(
        speed_m_s=speed,
        slope_deg=slope,
        episodes=len(off),
        pairs=len(both),
        falls_off=sum(e.fell for e in off),
        falls_on=sum(e.fell for e in on),
        reduction_pct=metabolic[0],
        reduction_se_pct=metabolic[1],
        activation_reduction_pct=activation[0],
        activation_reduction_se_pct=activation[1],
        positive_power_reduction_pct=power[0],
        positive_power_reduction_se_pct=power[1],
    )


@dataclass
class GridResult:
    conditions: list[ConditionResult]
    paired: list[PairedResult]

    def condition(self, speed: float, slope: float, exo: bool) -> ConditionResult | None:
        return next((c for c in self.conditions if (c.speed_m_s, c.slope_deg, c.exo) == (speed, slope, exo)), None)

    def pairing(self, speed: float, slope: float) -> PairedResult | None:
        return next((p for p in self.paired if (p.speed_m_s, p.slope_deg) == (speed, slope)), None)


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
    analysis: int = ANALYSIS_VERSION
    """How the episode is cut and measured; part of the key too, so saved episodes of an older analysis are walked
    again rather than mixed into a new report."""

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
    episodes: int = 16,
    seconds: float = 10.0,
    progress: bool = True,
    results_dir: Path | None = None,
    first_seed: int = 0,
) -> GridResult:
    """The grid as one task per (condition, exo, episode), so workers share it evenly; summarised here.

    Condition ``i`` (speeds × slopes) walks seeds ``1000 i + first_seed + k`` exo off and on alike: a checkpoint
    chosen on one set of seeds is reported on another. With ``results_dir``
    finished episodes are kept there and a rerun of the same checkpoint's grid resumes.
    """
    run_dir = str(teacher.run_dir.resolve())  # cluster workers do not share our working directory
    conditions = [(s, sl) for s in speeds for sl in slopes]
    tasks = [
        EpisodeTask(run_dir, teacher.hash, s, sl, exo, 1000 * i + first_seed + k, seconds)
        for i, (s, sl) in enumerate(conditions)
        for exo in (False, True)
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
    grid = GridResult([], [])
    for i, (s, sl) in enumerate(conditions):
        off = records[2 * i * episodes : (2 * i + 1) * episodes]
        on = records[(2 * i + 1) * episodes : (2 * i + 2) * episodes]
        grid.conditions += [summarise(s, sl, False, off, reference), summarise(s, sl, True, on, reference)]
        grid.paired.append(pair(s, sl, off, on))
    return grid


def lift_j_per_kg_m(slope_deg: float) -> float:
    """Work per kg per metre walked that raising the body up ``slope_deg`` asks (g·sin(slope); negative downhill)."""
    return 9.81 * float(np.sin(np.radians(slope_deg)))


def _missing_condition(speed: float, slope: float, exo: bool) -> ConditionResult:
    """A condition the grid lacks, every figure NaN, so that ``summary`` still writes the cell's full row."""
    nan = float("nan")
    return ConditionResult(speed, slope, exo, 0, nan, nan, nan, nan, nan, nan, 0, nan)


def summary(grid: GridResult, steps: int) -> dict:
    """The machine-readable results (``eval/summary.json``): one entry per cell (speed × slope) of the grid, level
    and sloped alike with the same keys, right side, falls as fractions, torques as positive magnitudes; left-side
    figures with a ``_left`` suffix. A cell whose walks all fell has its figures NaN (``pairs`` 0)."""
    rows = []
    for p in grid.paired:
        off, on = (
            grid.condition(p.speed_m_s, p.slope_deg, exo) or _missing_condition(p.speed_m_s, p.slope_deg, exo)
            for exo in (False, True)
        )
        row = {
            "speed_m_s": p.speed_m_s,
            "slope_deg": p.slope_deg,
            "episodes": p.episodes,
            "pairs": p.pairs,
            "falls_off": off.fall_rate,
            "falls_on": on.fall_rate,
            "metabolic_off_w_kg": off.metabolic_w_per_kg,
            "metabolic_on_w_kg": on.metabolic_w_per_kg,
            "reduction_pct": p.reduction_pct,
            "reduction_se_pct": p.reduction_se_pct,
            "activation_off": off.mean_activation,
            "activation_on": on.mean_activation,
            "activation_reduction_pct": p.activation_reduction_pct,
            "positive_power_off_w_kg": off.positive_power_w_per_kg,
            "positive_power_on_w_kg": on.positive_power_w_per_kg,
            "positive_power_reduction_pct": p.positive_power_reduction_pct,
            "speed_error_off_m_s": off.speed_error_m_s,
            "speed_error_on_m_s": on.speed_error_m_s,
            "net_work_off_j_kg_m": off.net_work_j_per_kg_m,
            "lift_j_kg_m": lift_j_per_kg_m(p.slope_deg),
            "fibre_positive_work_off_w_kg": off.fibre_work_w_per_kg[0],
            "fibre_negative_work_off_w_kg": off.fibre_work_w_per_kg[1],
        }
        for side, suffix in (("right", ""), ("left", "_left")):
            peaks = on.exo_peaks
            row |= {
                f"exo_ext_peak_nm_kg{suffix}": peaks.get(f"{side}_extension_nm_per_kg", float("nan")),
                f"exo_ext_peak_pct_gc{suffix}": peaks.get(f"{side}_extension_at_pct", float("nan")),
                f"exo_flex_peak_nm_kg{suffix}": peaks.get(f"{side}_flexion_nm_per_kg", float("nan")),
                f"exo_flex_peak_pct_gc{suffix}": peaks.get(f"{side}_flexion_at_pct", float("nan")),
                f"hip_r{suffix}": off.angle_r.get(f"{side}_hip", float("nan")),
                f"hip_rmse_deg{suffix}": off.angle_rmse_deg.get(f"{side}_hip", float("nan")),
            }
        rows.append({k: (round(v, 5) if isinstance(v, float) else v) for k, v in row.items()})
    return {"steps": steps, "conditions": rows}


def to_json(grid: GridResult, meta: dict) -> str:
    return json.dumps(
        {
            "meta": meta,
            "conditions": [dataclasses.asdict(r) for r in grid.conditions],
            "paired": [dataclasses.asdict(p) for p in grid.paired],
        },
        indent=1,
        default=float,
    )
