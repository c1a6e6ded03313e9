"""Thigh gyro and hip torque over time, from a trial log or a simulated run, and their gait-cycle profiles.

One shape for both, so a bench trial, a walking trial and a purely simulated run compare the same way:
strides from the thigh gyroscope (analysis/gait.py), torque per kg over 0…100 % of each stride.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from analysis.gait import GaitProfile, phase_profile, stride_config, strides
from firmware_bridge.baseline import BaselineConfig
from firmware_bridge.trial.reader import TrialLog

SIDES = ("right", "left")


@dataclass
class TorqueTrace:
    imu_t: np.ndarray
    """(n,) s."""
    thigh_gyro: np.ndarray
    """(n, 2) sagittal angular velocity (rad/s, + flexion), (right, left)."""
    torque_t: np.ndarray
    """(m,) s."""
    torque_nm: np.ndarray
    """(m, 2) hip torque (N·m, + flexion), (right, left)."""
    body_mass_kg: float
    source: str

    @classmethod
    def from_trial(cls, log: TrialLog, config: BaselineConfig | None = None) -> TorqueTrace:
        """The shaped torque the runtime commanded, against the thigh gyro frames it received."""
        config = config or stride_config()
        subject = yaml.safe_load(log.metadata.get("config_subject", {}).get("yaml", "") or "{}") or {}
        wanted = [channel.split(".") for channel in config.channels]  # thigh_r.gyro_z → the frame's thigh_r.gyro_z
        imu_t, gyro = [], []
        last = [0.0, 0.0]
        for t, frame in log.messages.get("/imu/raw", []):
            for side, (imu, axis) in enumerate(wanted):
                value = frame.get(imu, {}).get(axis)
                if value is not None and np.isfinite(value):
                    last[side] = value
            imu_t.append(t / 1e9)
            gyro.append(list(last))
        shaped = log.messages.get("/torque/shaped", [])
        return cls(
            np.array(imu_t),
            np.array(gyro).reshape(-1, 2),
            np.array([t / 1e9 for t, _ in shaped]),
            np.array([[m["right_nm"], m["left_nm"]] for _, m in shaped], dtype=float).reshape(-1, 2),
            float(subject.get("body_mass_kg", 75.0)),
            str(log.path),
        )

    @classmethod
    def from_npz(cls, path: Path) -> TorqueTrace:
        data = np.load(path)
        return cls(
            data["imu_t"],
            data["thigh_gyro"],
            data["torque_t"],
            data["torque_nm"],
            float(data["body_mass_kg"]),
            str(path),
        )

    def save_npz(self, path: Path) -> Path:
        np.savez(
            path,
            imu_t=self.imu_t,
            thigh_gyro=self.thigh_gyro,
            torque_t=self.torque_t,
            torque_nm=self.torque_nm,
            body_mass_kg=self.body_mass_kg,
        )
        return Path(path)

    def profiles(self, config: BaselineConfig | None = None) -> list[GaitProfile]:
        """Torque (N·m/kg) over the gait cycle, per side, strides from that side's thigh gyro."""
        config = config or stride_config()
        out = []
        for side in range(2):
            cycles = strides(self.imu_t, self.thigh_gyro[:, side], config)
            out.append(phase_profile(self.torque_t, self.torque_nm[:, side] / self.body_mass_kg, cycles))
        return out


def load_trace(path: Path) -> TorqueTrace:
    """A trial log (.mcap) or a simulated run (.npz)."""
    from firmware_bridge.trial.reader import read_trial

    path = Path(path)
    return TorqueTrace.from_npz(path) if path.suffix == ".npz" else TorqueTrace.from_trial(read_trial(path))
