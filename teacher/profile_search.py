"""CMA-ES over a phase-based hip profile (:mod:`teacher.assistance`) worn by a frozen teacher, scored by the
paired metabolic reduction: the exo learns against a human that does not adapt (SMAT's third stage).

Every candidate walks the same seeds as the zero-torque baseline (exo worn, commanded 0), so the episode-to-
episode spread (~12 % of the probe) cancels in each pair. A candidate scores the mean paired reduction (%)
over the seeds where neither walk fell, less ``FALL_PENALTY_PCT`` per extra fall per episode. The search
state is pickled every generation and finished episodes are kept, so an interrupted search resumes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from teacher import cma_search
from teacher.assistance import HipProfile, ProfileAssisted, profile_from_unit, unit_from_profile
from teacher.evaluation import EpisodeRecord, pair, run_episode
from teacher.executor import Executor

FALL_PENALTY_PCT = 50.0
"""Score lost per fall more than the baseline had, as a share of the episodes: 1 extra fall in 16 costs 3.1
points, more than the whole reduction the diagnosis found for a hand-set profile (3.6 %)."""
START = HipProfile(0.15, 0.10, 0.15, 0.15, 0.55, 0.15)
"""The hand-set profile of the diagnosis (extension peak ~10 % GC, flexion ~55 % GC), at 0.15 N·m/kg."""


@dataclass(frozen=True)
class ProfileEpisodeTask:
    run_dir: str
    checkpoint_hash: str
    profile: tuple[float, ...] | None
    """The profile's parameters in :class:`HipProfile` order; ``None`` = exo worn at zero torque."""
    speed: float
    seed: int
    seconds: float
    slope_deg: float = 0.0


def run_profile_episode(task: ProfileEpisodeTask) -> EpisodeRecord:
    from teacher.policy import cached_policy

    human = cached_policy(task.run_dir, task.checkpoint_hash)
    sim = dataclasses.replace(human.sim_config, exo_driver="policy")  # the candidate drives the exo, not the env
    if task.profile is None:
        return run_episode(human, sim, task.speed, task.slope_deg, False, task.seed, task.seconds)
    from firmware_bridge.config import DeviceConfig, load_config
    from firmware_bridge.config.paths import default_config

    device = load_config(default_config("device", "hip_exo"), DeviceConfig)
    policy = ProfileAssisted(human, HipProfile(*task.profile), device.command_full_scale_nm_per_kg)
    return run_episode(policy, sim, task.speed, task.slope_deg, True, task.seed, task.seconds)


@dataclass(frozen=True)
class PairedScore:
    reduction_pct: float
    """Mean over the seeds where neither walk fell (and both made a whole stride) of 100 · (off − on) / off."""
    reduction_se_pct: float
    pairs: int
    falls_off: int
    falls_on: int
    score: float

    @staticmethod
    def of(off: list[EpisodeRecord], on: list[EpisodeRecord]) -> PairedScore:
        paired = pair(float("nan"), 0.0, off, on)  # the eval's pairing: one place for it
        mean = paired.reduction_pct if paired.pairs else -100.0
        score = mean - FALL_PENALTY_PCT * max(0, paired.falls_on - paired.falls_off) / len(off)
        return PairedScore(mean, paired.reduction_se_pct, paired.pairs, paired.falls_off, paired.falls_on, score)


def search(
    run_dir: Path,
    checkpoint_hash: str,
    executor: Executor,
    out: Path,
    *,
    speed: float,
    slope_deg: float = 0.0,
    episodes: int = 16,
    seconds: float = 10.0,
    generations: int = 30,
    population: int = 8,
    sigma: float = 0.2,
    start: HipProfile = START,
    seed: int = 0,
    on_generation: Callable[[int, HipProfile, PairedScore], None] | None = None,
) -> tuple[HipProfile, PairedScore]:
    """Run (or resume) the search in ``out``; returns the best profile seen and its score."""
    run_dir_s = str(Path(run_dir).resolve())
    seeds = [1000 + k for k in range(episodes)]

    def walks(profile: HipProfile | None, desc: str) -> list[EpisodeRecord]:
        params = None if profile is None else tuple(float(v) for v in profile.as_dict().values())
        tasks = [ProfileEpisodeTask(run_dir_s, checkpoint_hash, params, speed, s, seconds, slope_deg) for s in seeds]
        return executor.map(run_profile_episode, tasks, desc=desc, progress=False, results_dir=out / "episodes")

    off = walks(None, "zero torque")

    return cma_search.search(
        out,
        unit_from_profile(start),
        profile_from_unit,
        lambda profiles, desc: [PairedScore.of(off, walks(p, desc)) for p in profiles],
        lambda profile, score: {"speed_m_s": speed, "slope_deg": slope_deg, **profile.as_dict(), **score.__dict__},
        generations=generations,
        population=population,
        sigma=sigma,
        seed=seed,
        on_generation=on_generation,
    )
