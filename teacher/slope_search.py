"""CMA-ES over how the tracking prior walks one slope (:class:`teacher.config.SlopeSetting`), with a frozen
teacher's residual on top: the human's route onto slopes (docs/teacher.md, "Slopes").

The level walker falls within ~2 s at ±5° (it tracks level gait on a slope, with no push-off uphill and no
braking downhill). A setting adds what the level gait lacks: trunk lean, reference offsets of hip, knee and
ankle, stance knee extension and ankle push-off, and push-off that rises as the walker falls behind its
speed. A candidate walks each (speed, seed) with the exo off; its score is the mean share of the episode
walked, each walk's share reduced by ``SPEED_WEIGHT`` × its speed error. Searches at neighbouring slopes start from each other's
best (``start``), and the prior interpolates between the settings found.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from teacher import cma_search
from teacher.config import SLOPE_TERMS, SlopeSetting
from teacher.evaluation import EpisodeRecord, run_episode
from teacher.executor import Executor

SPEED_WEIGHT = 1.0
"""Share of a walk lost per m/s of its speed error: 0.1 m/s (the target's limit) costs a tenth of it."""
BOUNDS = {
    "trunk_lean_rad": (-0.3, 0.5),
    "hip_flexion_rad": (-0.4, 0.4),
    "knee_flexion_rad": (-0.3, 0.6),
    "ankle_dorsiflexion_rad": (-0.4, 0.4),
    "stance_knee_extension_nm_per_kg": (-1.0, 1.5),
    "stance_ankle_plantarflexion_nm_per_kg": (-1.0, 1.5),
    "propulsion_nm_per_kg_per_m_s": (-1.0, 3.0),
}
"""Search bounds: lean and offsets within ~±25° of the level gait; stance torques up to ~the peak net moments
of level walking (knee ~1, ankle ~1.5 N·m/kg)."""


def setting_from_unit(slope_deg: float, unit: np.ndarray) -> SlopeSetting:
    values = {
        name: BOUNDS[name][0] + (BOUNDS[name][1] - BOUNDS[name][0]) * float(u)
        for name, u in zip(SLOPE_TERMS, np.clip(unit, 0.0, 1.0), strict=True)
    }
    return SlopeSetting(slope_deg=slope_deg, **values)


def unit_from_setting(setting: SlopeSetting) -> np.ndarray:
    return np.array([(getattr(setting, n) - BOUNDS[n][0]) / (BOUNDS[n][1] - BOUNDS[n][0]) for n in SLOPE_TERMS])


@dataclass(frozen=True)
class SlopeEpisodeTask:
    run_dir: str
    checkpoint_hash: str
    setting: tuple[float, ...]
    """The :class:`SlopeSetting`'s values in field order (slope first)."""
    speed: float
    seed: int
    seconds: float


def run_slope_episode(task: SlopeEpisodeTask) -> EpisodeRecord:
    from teacher.policy import cached_policy

    human = cached_policy(task.run_dir, task.checkpoint_hash)
    setting = SlopeSetting(*task.setting)
    prior = dataclasses.replace(human.sim_config.tracking_prior, slopes=[setting])
    sim = dataclasses.replace(human.sim_config, tracking_prior=prior)
    return run_episode(human, sim, task.speed, setting.slope_deg, False, task.seed, task.seconds)


@dataclass(frozen=True)
class SlopeScore:
    walked: float
    """Mean share of the episode walked before a fall (1 = no falls)."""
    falls: int
    speed_error_m_s: float
    score: float

    @staticmethod
    def of(records: Sequence[EpisodeRecord], steps: int) -> SlopeScore:
        walked = np.array([r.steps / steps for r in records])
        errors = np.minimum([r.speed_error_m_s for r in records], 1.0)
        falls = sum(r.fell for r in records)
        # a walk's speed error counts as much as the walk lasted: a fall in 1 s must not win by matching speed
        score = float(np.mean(walked * (1.0 - SPEED_WEIGHT * errors)))
        return SlopeScore(float(walked.mean()), falls, float(errors.mean()), score)


def search(
    run_dir: Path,
    checkpoint_hash: str,
    control_rate_hz: float,
    executor: Executor,
    out: Path,
    *,
    slope_deg: float,
    speeds: Sequence[float] = (0.8, 1.25, 1.5),
    episodes: int = 2,
    seconds: float = 10.0,
    generations: int = 20,
    population: int = 8,
    sigma: float = 0.25,
    start: SlopeSetting | None = None,
    seed: int = 0,
    on_generation: Callable[[int, SlopeSetting, SlopeScore], None] | None = None,
) -> tuple[SlopeSetting, SlopeScore]:
    """Run (or resume) the search at ``slope_deg`` in ``out``; returns the best setting seen and its score."""
    run_dir_s = str(Path(run_dir).resolve())
    steps = round(seconds * control_rate_hz)
    walks = [(v, 1000 + k) for v in speeds for k in range(episodes)]

    def evaluate(settings: list[SlopeSetting], desc: str) -> list[SlopeScore]:
        values = [tuple(dataclasses.astuple(s)) for s in settings]
        tasks = [SlopeEpisodeTask(run_dir_s, checkpoint_hash, s, v, k, seconds) for s in values for v, k in walks]
        records = executor.map(run_slope_episode, tasks, desc=desc, progress=False, results_dir=out / "episodes")
        n = len(walks)
        return [SlopeScore.of(records[i * n : (i + 1) * n], steps) for i in range(len(settings))]

    return cma_search.search(
        out,
        unit_from_setting(start or SlopeSetting(slope_deg=slope_deg)),
        functools.partial(setting_from_unit, slope_deg),
        evaluate,
        lambda setting, score: {**setting.as_dict(), **score.__dict__},
        generations=generations,
        population=population,
        sigma=sigma,
        seed=seed,
        on_generation=on_generation,
    )
