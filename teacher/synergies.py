"""Muscle synergies: extraction from a stage-1 teacher's excitations, and the synergy action map.

Extraction is non-negative matrix factorisation (Lee & Seung multiplicative updates) of excitation
samples, one row per leg per control step, with the left leg's muscles put in the right leg's order:
the synergies are mirrored, one set for both legs. Variance accounted for (VAF) says how many a leg
needs. The walker turns per-leg synergy activations back into excitations with :func:`synergy_matrix`.
"""

from __future__ import annotations

import numpy as np

from teacher.config import SynergyConfig

SIDES = ("r", "l")


def split_side(muscle: str) -> tuple[str, str]:
    """``hamstrings_r`` → (``hamstrings``, ``r``)."""
    group, _, side = muscle.rpartition("_")
    if side not in SIDES or not group:
        raise ValueError(f"muscle {muscle!r} does not end in _r or _l; synergies need a side for each muscle")
    return group, side


def synergy_matrix(config: SynergyConfig, muscle_names: tuple[str, ...]) -> np.ndarray:
    """(muscles, 2 · synergies) map from (right synergies, left synergies) to each muscle's drive."""
    k = config.count()
    groups = {split_side(name)[0] for name in muscle_names}
    missing, unknown = groups - set(config.weights), set(config.weights) - groups
    if missing or unknown:
        raise ValueError(
            f"synergies.weights must name each muscle group once: missing {sorted(missing)}, unknown {sorted(unknown)}"
        )
    matrix = np.zeros((len(muscle_names), 2 * k))
    for row, name in enumerate(muscle_names):
        group, side = split_side(name)
        start = SIDES.index(side) * k
        matrix[row, start : start + k] = config.weights[group]
    return matrix


def leg_rows(excitations: np.ndarray, muscle_names: tuple[str, ...]) -> tuple[np.ndarray, list[str]]:
    """Samples (steps, muscles) → (2 · steps, groups): each leg's excitations, groups in one order."""
    groups = sorted({split_side(name)[0] for name in muscle_names})
    columns = {split_side(name): i for i, name in enumerate(muscle_names)}
    legs = [excitations[:, [columns[(group, side)] for group in groups]] for side in SIDES]
    return np.vstack(legs), groups


def nmf(data: np.ndarray, count: int, iterations: int = 500, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``data`` (samples, channels) ≥ 0 ≈ ``activations @ synergies``; synergies (count, channels) scaled to max 1."""
    if np.any(data < 0.0):
        raise ValueError("NMF needs non-negative data")
    rng = np.random.default_rng(seed)
    scale = np.sqrt(data.mean() / count)
    activations = rng.uniform(0.0, 1.0, (data.shape[0], count)) * scale
    synergies = rng.uniform(0.0, 1.0, (count, data.shape[1])) * scale
    tiny = 1e-12
    for _ in range(iterations):
        synergies *= (activations.T @ data) / (activations.T @ activations @ synergies + tiny)
        activations *= (data @ synergies.T) / (activations @ synergies @ synergies.T + tiny)
    peak = synergies.max(axis=1, keepdims=True) + tiny
    return activations * peak.T, synergies / peak


def variance_accounted_for(data: np.ndarray, reconstruction: np.ndarray) -> float:
    """VAF = 1 − |data − reconstruction|² / |data|², the usual synergy-count criterion (≥ 0.9)."""
    return float(1.0 - np.sum((data - reconstruction) ** 2) / np.sum(data**2))


def weights_by_group(synergies: np.ndarray, groups: list[str]) -> dict[str, list[float]]:
    """Synergies (count, groups) as ``SynergyConfig.weights``."""
    return {group: [round(float(w), 4) for w in synergies[:, i]] for i, group in enumerate(groups)}


def collect_excitations(
    teacher, speeds: list[float], seconds: float, seed: int = 0
) -> tuple[np.ndarray, tuple[str, ...]]:
    """(steps, muscles) excitations, and the muscles' names, of ``teacher`` (a :class:`teacher.policy.TeacherPolicy`) walking
    level ground at each speed, exo off, in its own stage's sim config; episodes end at a fall."""
    import dataclasses

    from teacher.config import RootSupportConfig
    from teacher.env.walker import HipExoWalkerEnv

    config = dataclasses.replace(
        teacher.sim_config, exo_enabled=False, root_support=RootSupportConfig(), episode_s=seconds
    )
    env = HipExoWalkerEnv(config)
    samples = []
    for i, speed in enumerate(speeds):
        obs, _ = env.reset(seed=seed + i, options={"speed_m_s": speed, "slope_deg": 0.0})
        done = False
        while not done:
            obs, _, terminated, truncated, info = env.step(teacher.act(obs))
            samples.append(info["excitations"])
            done = terminated or truncated
    return np.array(samples), env.backend.muscle_names
