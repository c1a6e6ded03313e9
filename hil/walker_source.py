"""The closed-loop IMU source: the simulated walker (MuJoCo, the teacher's human policy) in real time.

Each IMU period the walker advances one device period with the hip torque the actuator delivers *now*
(``apply_torque``: the bench passes the motor emulator's output, which follows what the runtime sent over
serial), and reports its simulated IMUs. The teacher drives the muscles at the control rate; its own exo
command is ignored: the exo is the device's. Episodes last ``episode_s`` and each starts from the next seed, so
runs of the same source (bench, in-process, exo off) walk the same episodes and pair by seed; a fall ends its
episode early and is counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from firmware_bridge.config import DeviceConfig, SubjectConfig
from hil.sources import Reading


@dataclass
class WalkerRecord:
    """What the walker did, per device period (t in source time)."""

    torque_nm: list[np.ndarray] = field(default_factory=list)
    phase: list[float] = field(default_factory=list)
    metabolic_w_per_kg: list[float] = field(default_factory=list)
    """Per control step."""
    forward_velocity_m_s: list[float] = field(default_factory=list)
    falls: int = 0
    episodes: int = 1
    finished: list[EpisodeOutcome] = field(default_factory=list)
    """Episodes that ended (fell or ran their length) before the source did."""


@dataclass(frozen=True)
class EpisodeOutcome:
    seed: int
    fell: bool
    metabolic_w_per_kg: float
    """Mean over the episode's control steps."""


class SimulatedWalkerSource:
    def __init__(
        self,
        teacher_run_dir: Path,
        device: DeviceConfig,
        subject: SubjectConfig,
        rate_hz: float,
        duration_s: float,
        speed_m_s: float = 1.25,
        slope_deg: float = 0.0,
        seed: int = 0,
        root_support_fraction: float | None = None,
        episode_s: float = 10.0,
    ):
        import dataclasses

        import torch

        from teacher.env import HipExoWalkerEnv
        from teacher.policy import TeacherPolicy

        torch.set_num_threads(1)  # the runtime under test needs the other core
        self.teacher = TeacherPolicy(Path(teacher_run_dir))
        sim = dataclasses.replace(self.teacher.sim_config, exo_enabled=False, episode_s=episode_s)
        if root_support_fraction is not None:
            sim = dataclasses.replace(
                sim, root_support=dataclasses.replace(sim.root_support, fraction=root_support_fraction)
            )
        if abs(sim.device_rate_hz - rate_hz) > 1e-9:
            raise ValueError(f"the walker runs its IMUs at {sim.device_rate_hz:g} Hz; the bench asks {rate_hz:g} Hz")
        self.env = HipExoWalkerEnv(sim, device, subject)
        self.rate_hz = rate_hz
        self.duration_s = duration_s
        self.support_fraction = sim.root_support.fraction
        self.conditions = {"speed_m_s": speed_m_s, "slope_deg": slope_deg}
        self._seed = seed
        ids = device.imu_ids()
        self._imu_ids = [ids[name] for name in self.env.backend.imu_names]
        self._periods = sim.device_periods_per_control_step
        self._torque = np.zeros(2)
        self.record = WalkerRecord()
        for _ in range(20):  # warm up torch and the solver so the first real-time periods are not late
            self.teacher.act(self._warm_up_observation())
        self._observation, _ = self.env.reset(seed=seed, options=self.conditions)
        self._period = 0
        self._excitations = np.zeros(0)
        self._episode_start = 0

    def _warm_up_observation(self) -> np.ndarray:
        observation, _ = self.env.reset(seed=self._seed, options=self.conditions)
        self.env.begin_step(self.teacher.act(observation))
        return observation

    def apply_torque(self, right_nm: float, left_nm: float) -> None:
        self._torque = np.array([right_nm, left_nm])

    def sample(self, index: int) -> dict[int, Reading] | None:
        if index >= round(self.duration_s * self.rate_hz):
            return None
        if self._period == 0:
            self._excitations, _ = self.env.begin_step(self.teacher.act(self._observation))
        imu = self.env.advance_period(self._excitations, self._torque)
        self.record.torque_nm.append(self._torque.copy())
        self.record.phase.append(self.env.phase)
        self._period += 1
        if self._period == self._periods:
            self._period = 0
            self._observation, _, terminated, truncated, info = self.env.end_step(self._excitations)
            self.record.metabolic_w_per_kg.append(info["metabolic_w_per_kg"])
            self.record.forward_velocity_m_s.append(info["forward_velocity_m_s"])
            if terminated or truncated:
                costs = self.record.metabolic_w_per_kg[self._episode_start :]
                self.record.finished.append(EpisodeOutcome(self._seed, terminated, float(np.mean(costs))))
                self._episode_start = len(self.record.metabolic_w_per_kg)
                self.record.falls += int(terminated)
                self.record.episodes += 1
                self._seed += 1
                self._observation, _ = self.env.reset(seed=self._seed, options=self.conditions)
        return {i: (tuple(row[:3]), tuple(row[3:])) for i, row in zip(self._imu_ids, imu, strict=True)}
