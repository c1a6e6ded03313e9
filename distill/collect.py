"""Teacher rollouts with simulated IMUs at the device rate, randomised, stored as arrays with their metadata.

Each control step the teacher acts on the privileged observation; its two exo commands (normalised, before
shaping) are the labels, held over the control step's device periods like the env holds them. In DAgger
rounds a ``driver`` (the student) replaces the exo part of the action, so the walker visits the states the
student leads it to, while the labels stay the teacher's.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from distill.config import DistillConfig
from distill.randomise import SensorModel
from firmware_bridge import atomic
from firmware_bridge.config import DeviceConfig, SubjectConfig, load_config
from firmware_bridge.config.paths import default_config

Driver = Callable[[np.ndarray], np.ndarray]
"""(periods so far, n_imus, 6) randomised IMU history → normalised exo command (right, left)."""


@dataclass
class Episode:
    speed_m_s: float
    slope_deg: float
    seed: int
    imu: np.ndarray
    """(T, n_imus, 6) randomised, at the device rate."""
    labels: np.ndarray
    """(T, 2) the teacher's normalised exo command."""
    fell: bool
    metabolic_w_per_kg: float = float("nan")
    """Mean metabolic probe rate over the episode."""
    clean_imu: np.ndarray | None = None
    """(T, n_imus, 6) before randomisation: training draws fresh sensors from it every epoch (distill.train.fit)."""
    body_mass_kg: float = float("nan")


def rollout(
    teacher, config: DistillConfig, speed: float, slope: float, seed: int, driver: Driver | None = None
) -> Episode:
    from teacher.env import HipExoWalkerEnv

    rng = np.random.default_rng(seed)
    r = config.randomisation
    device = load_config(default_config("device", "hip_exo"), DeviceConfig)
    subject = load_config(default_config("subject"), SubjectConfig)
    subject = dataclasses.replace(subject, body_mass_kg=subject.body_mass_kg * rng.uniform(*r.body_mass_scale))
    scale = rng.uniform(*r.device_mass_scale)
    device = dataclasses.replace(device, segment_masses_kg={k: v * scale for k, v in device.segment_masses_kg.items()})
    # The walker as the teacher knows it: with its stage's root support, if it still needs one.
    sim = dataclasses.replace(teacher.sim_config, exo_enabled=True, episode_s=config.episode_s)
    env = HipExoWalkerEnv(sim, device, subject)
    obs, _ = env.reset(seed=seed, options={"speed_m_s": speed, "slope_deg": slope})
    clean, labels = [], []
    steps = round(config.episode_s * sim.control_rate_hz)
    periods = sim.device_periods_per_control_step
    sensors = SensorModel.draw(r, len(env.backend.imu_names), steps * periods, rng)
    fell = False
    metabolic = []
    for _ in range(steps):
        action = teacher.act(obs)
        label = action[-2:].copy()
        if driver is not None:  # before any IMU data, the driven exo stays at zero
            action[-2:] = np.clip(driver(sensors.apply(np.array(clean))), -1.0, 1.0) if clean else 0.0
        obs, _, terminated, truncated, info = env.step(action)
        clean.extend(info["imu"])
        labels.extend([label] * periods)
        metabolic.append(info["metabolic_w_per_kg"])
        if terminated or truncated:
            fell = terminated
            break
    imu = sensors.apply(np.array(clean))
    labels_array = np.array(labels, dtype=np.float32)
    mass = env.backend.body_mass_kg
    return Episode(speed, slope, seed, imu, labels_array, fell, float(np.mean(metabolic)), np.array(clean), mass)


@dataclass(frozen=True)
class RolloutTask:
    """One rollout as a pure function of its arguments, for the executor's workers (local or on a cluster)."""

    teacher_dir: str
    teacher_hash: str
    config: DistillConfig
    speed: float
    slope: float
    seed: int
    driver: Driver | None = None
    """Picklable (it travels to the worker), e.g. :class:`distill.train.StudentDriver`."""

    @property
    def label(self) -> str:
        return f"rollout {self.speed:g} m/s, {self.slope:g}°, seed {self.seed}"


def run_rollout_task(task: RolloutTask) -> Episode:
    from teacher.policy import cached_policy

    teacher = cached_policy(task.teacher_dir, task.teacher_hash)
    return rollout(teacher, task.config, task.speed, task.slope, task.seed, task.driver)


DATASET_FORMAT = 2
"""2: the clean IMU is stored beside the randomised one. A dataset of another format is collected again."""


def save_dataset(path: Path, episodes: list[Episode], metadata: dict) -> Path:
    """One .npz (concatenated periods + episode boundaries) and a .json of conditions, seeds, provenance.

    Both written atomically, the .json last: a dataset is complete when its .json exists (:func:`dataset_complete`).
    """
    path = Path(path)
    lengths = np.array([len(e.labels) for e in episodes])
    with atomic.atomic_file(path) as tmp:
        np.savez(
            tmp,
            imu=np.concatenate([e.imu for e in episodes]).astype(np.float32),
            clean_imu=np.concatenate([e.clean_imu for e in episodes]).astype(np.float32),
            labels=np.concatenate([e.labels for e in episodes]),
            episode_lengths=lengths,
            speeds=np.array([e.speed_m_s for e in episodes]),
            slopes=np.array([e.slope_deg for e in episodes]),
            seeds=np.array([e.seed for e in episodes]),
            fell=np.array([e.fell for e in episodes]),
            metabolic_w_per_kg=np.array([e.metabolic_w_per_kg for e in episodes]),
            body_mass_kg=np.array([e.body_mass_kg for e in episodes]),
        )
        digest = hashlib.sha256(tmp.read_bytes()).hexdigest()
    atomic.write_text(
        path.with_suffix(".json"),
        json.dumps({**metadata, "sha256": digest, "episodes": len(episodes), "format": DATASET_FORMAT}, indent=1),
    )
    return path


def dataset_complete(path: Path) -> bool:
    """The .npz and, written after it, its .json, in this format."""
    record = Path(path).with_suffix(".json")
    return Path(path).is_file() and record.is_file() and json.loads(record.read_text()).get("format") == DATASET_FORMAT


def load_dataset(path: Path) -> list[Episode]:
    data = np.load(path)
    bounds = np.r_[0, np.cumsum(data["episode_lengths"])]
    return [
        Episode(
            float(data["speeds"][k]),
            float(data["slopes"][k]),
            int(data["seeds"][k]),
            data["imu"][bounds[k] : bounds[k + 1]],
            data["labels"][bounds[k] : bounds[k + 1]],
            bool(data["fell"][k]),
            float(data["metabolic_w_per_kg"][k]),
            data["clean_imu"][bounds[k] : bounds[k + 1]],
            float(data["body_mass_kg"][k]),
        )
        for k in range(len(bounds) - 1)
    ]
