"""Cross-entropy search over the tracking prior's gains for unsupported walking.

The balanced prior (``TrackingPriorConfig.balance``) has eleven gains whose good values depend on the
muscles and the model; hand tuning found none that walked. This is how such controllers are usually
tuned (SIMBICON-style controllers with CMA-ES): sample gains around a mean, run the walker with a zero
policy residual and no root support from several starting phases and speeds, keep the elite, refit.
The score is the mean share of ``steps`` survived plus ``tracking_weight`` × the mean joint tracking.
"""

from __future__ import annotations

import dataclasses
import pickle
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from teacher.config import JointGains, RootSupportConfig, SimConfig, TrackingPriorConfig
from teacher.executor import Executor


@dataclass(frozen=True)
class Gain:
    """One searched gain: its bounds, searched on a log scale when it spans orders of magnitude."""

    name: str
    low: float
    high: float
    log: bool = False

    def value(self, unit: float) -> float:
        """Map ``unit`` in [0, 1] onto the bounds."""
        unit = float(np.clip(unit, 0.0, 1.0))
        if self.log:
            return self.low * (self.high / self.low) ** unit
        return self.low + (self.high - self.low) * unit

    def unit(self, value: float) -> float:
        """Inverse of :meth:`value`."""
        if self.log:
            return float(np.log(value / self.low) / np.log(self.high / self.low))
        return (value - self.low) / (self.high - self.low)


GAINS = (
    Gain("kp_hip", 50.0, 2000.0, log=True),
    Gain("kp_knee", 50.0, 2000.0, log=True),
    Gain("kp_ankle", 50.0, 2000.0, log=True),
    Gain("kd_hip", 2.0, 150.0, log=True),
    Gain("kd_knee", 2.0, 150.0, log=True),
    Gain("kd_ankle", 2.0, 150.0, log=True),
    Gain("trunk_kp", 0.0, 2000.0),
    Gain("trunk_kd", 0.0, 300.0),
    Gain("placement_position", -1.0, 1.5),
    Gain("placement_velocity", -1.0, 1.5),
    Gain("swing_world_frame", 0.0, 1.0),
)


def gains_of(prior: TrackingPriorConfig) -> dict[str, float]:
    kp, kd, balance = prior.kp_nm_per_rad, prior.kd_nm_s_per_rad, prior.balance
    return {
        "kp_hip": kp.hip,
        "kp_knee": kp.knee,
        "kp_ankle": kp.ankle,
        "kd_hip": kd.hip,
        "kd_knee": kd.knee,
        "kd_ankle": kd.ankle,
        "trunk_kp": balance.trunk_kp_nm_per_rad,
        "trunk_kd": balance.trunk_kd_nm_s_per_rad,
        "placement_position": balance.placement_position_rad_per_m,
        "placement_velocity": balance.placement_velocity_rad_s_per_m,
        "swing_world_frame": balance.swing_world_frame,
    }


def with_gains(prior: TrackingPriorConfig, gains: dict[str, float]) -> TrackingPriorConfig:
    """``prior`` with these gains and balance on (everything else kept)."""
    return dataclasses.replace(
        prior,
        enabled=True,
        kp_nm_per_rad=JointGains(gains["kp_hip"], gains["kp_knee"], gains["kp_ankle"]),
        kd_nm_s_per_rad=JointGains(gains["kd_hip"], gains["kd_knee"], gains["kd_ankle"]),
        balance=dataclasses.replace(
            prior.balance,
            enabled=True,
            trunk_kp_nm_per_rad=gains["trunk_kp"],
            trunk_kd_nm_s_per_rad=gains["trunk_kd"],
            placement_position_rad_per_m=gains["placement_position"],
            placement_velocity_rad_s_per_m=gains["placement_velocity"],
            swing_world_frame=gains["swing_world_frame"],
        ),
    )


@dataclass(frozen=True)
class Trial:
    """One candidate's walks: steps survived and mean joint tracking per (speed, phase) episode."""

    gains: dict[str, float]
    steps: tuple[int, ...]
    tracking: tuple[float, ...]
    score: float


@dataclass(frozen=True)
class Generation:
    index: int
    best: Trial
    mean_score: float


def walk(
    sim: SimConfig, episodes: Sequence[tuple[float, float]], steps: int, backend=None
) -> tuple[list[int], list[float]]:
    """Walk the prior alone (zero residual, no root support, exo off) from each (speed m/s, phase)."""
    from teacher.env.walker import HipExoWalkerEnv

    sim = dataclasses.replace(sim, root_support=RootSupportConfig(), exo_enabled=False)
    env = HipExoWalkerEnv(sim, backend=backend)
    survived, tracking = [], []
    for speed, phase in episodes:
        env.reset(seed=0, options={"speed_m_s": speed, "phase": phase, "slope_deg": 0.0})
        scores = []
        for _ in range(steps):
            *_, terminated, _, info = env.step(np.zeros(env.action_space.shape, dtype=np.float32))
            scores.append(info["joint_tracking"])
            if terminated:
                break
        survived.append(len(scores))
        tracking.append(float(np.mean(scores)))
    return survived, tracking


_BACKENDS: dict[bytes, object] = {}


def _backend(sim: SimConfig):
    """One compiled model per worker process and sim config, reused by every candidate it walks."""
    key = pickle.dumps(sim)
    if key not in _BACKENDS:
        from teacher.env.walker import HipExoWalkerEnv

        _BACKENDS[key] = HipExoWalkerEnv(sim).backend
    return _BACKENDS[key]


def evaluate_candidate(job: tuple[SimConfig, dict[str, float], tuple, int, float]) -> Trial:
    sim, gains, episodes, steps, tracking_weight = job
    candidate = dataclasses.replace(sim, tracking_prior=with_gains(sim.tracking_prior, gains))
    survived, tracking = walk(candidate, episodes, steps, backend=_backend(sim))
    score = float(np.mean(survived) / steps + tracking_weight * np.mean(tracking))
    return Trial(gains, tuple(survived), tuple(tracking), score)


def search(
    sim: SimConfig,
    episodes: Sequence[tuple[float, float]],
    *,
    generations: int,
    population: int = 24,
    elite: int = 6,
    steps: int = 250,
    spread: float = 0.3,
    tracking_weight: float = 0.1,
    seed: int = 0,
    executor: Executor,
    on_generation: Callable[[Generation], None] | None = None,
) -> Trial:
    """Cross-entropy method from ``sim``'s own gains; returns the best trial seen (the start included)."""
    rng = np.random.default_rng(seed)
    mean = np.array([g.unit(gains_of(sim.tracking_prior)[g.name]) for g in GAINS]).clip(0.0, 1.0)
    sigma = np.full(len(GAINS), spread)
    best: Trial | None = None
    for index in range(generations):
        units = np.clip(mean + sigma * rng.standard_normal((population, len(GAINS))), 0.0, 1.0)
        if index == 0:
            units[0] = mean  # the starting gains compete too
        jobs = [
            (
                sim,
                {g.name: g.value(u) for g, u in zip(GAINS, row, strict=True)},
                tuple(episodes),
                steps,
                tracking_weight,
            )
            for row in units
        ]
        labels = [f"generation {index} candidate {k}" for k in range(population)]
        trials = executor.map(evaluate_candidate, jobs, labels=labels, progress=False)
        scores = np.array([t.score for t in trials])
        chosen = np.argsort(scores)[-elite:]
        mean = units[chosen].mean(axis=0)
        sigma = np.maximum(units[chosen].std(axis=0), 0.02)
        leader = trials[int(np.argmax(scores))]
        if best is None or leader.score > best.score:
            best = leader
        if on_generation:
            on_generation(Generation(index, leader, float(scores.mean())))
    assert best is not None
    return best


def balance_yaml(gains: dict[str, float]) -> str:
    """The ``tracking_prior`` gains as YAML lines to paste into a sim config."""
    return "\n".join(
        [
            f"  kp_nm_per_rad: {{hip: {gains['kp_hip']:.1f}, knee: {gains['kp_knee']:.1f}, ankle: {gains['kp_ankle']:.1f}}}",
            f"  kd_nm_s_per_rad: {{hip: {gains['kd_hip']:.2f}, knee: {gains['kd_knee']:.2f}, ankle: {gains['kd_ankle']:.2f}}}",
            "  balance:",
            "    enabled: true",
            f"    trunk_kp_nm_per_rad: {gains['trunk_kp']:.1f}",
            f"    trunk_kd_nm_s_per_rad: {gains['trunk_kd']:.2f}",
            f"    swing_world_frame: {gains['swing_world_frame']:.3f}",
            f"    placement_position_rad_per_m: {gains['placement_position']:.3f}",
            f"    placement_velocity_rad_s_per_m: {gains['placement_velocity']:.3f}",
        ]
    )
