"""Distillation config (``kind: distill``): teacher, conditions, sensor randomisation, student, training."""

from __future__ import annotations

from dataclasses import dataclass

from firmware_bridge.config import register_kind
from firmware_bridge.config.schema import spec

TCN_KERNEL = 3
TCN_DILATIONS = (1, 2, 4, 8)


def tcn_receptive_field(kernel: int = TCN_KERNEL, dilations: tuple[int, ...] = TCN_DILATIONS) -> int:
    """Periods the causal TCN's newest output sees: two convolutions per dilation (distill.models.CausalTCN)."""
    return 1 + 2 * (kernel - 1) * sum(dilations)


THIGH_CHANNELS = [f"{imu}.{q}_{a}" for imu in ("thigh_r", "thigh_l") for q in ("gyro", "accel") for a in "xyz"]


@dataclass(frozen=True)
class RandomisationConfig:
    """How simulated IMUs are made to differ like real ones, drawn per episode (bias, mounting, latency) or per
    sample (noise, drops)."""

    gyro_noise_rad_s: float = spec(0.02, ge=0.0)
    accel_noise_m_s2: float = spec(0.1, ge=0.0)
    gyro_bias_rad_s: float = spec(0.02, ge=0.0)
    accel_bias_m_s2: float = spec(0.2, ge=0.0)
    mounting_deg: float = spec(10.0, ge=0.0, le=45.0, doc="uniform ± about each sensor axis")
    latency_periods: list[int] = spec([0, 3], length=2)
    drop_probability: float = spec(0.02, ge=0.0, lt=1.0, doc="a sample repeats the previous one")
    body_mass_scale: list[float] = spec([0.85, 1.15], length=2)
    device_mass_scale: list[float] = spec([0.8, 1.2], length=2)


@dataclass(frozen=True)
class StudentConfig:
    architecture: str = spec("tcn", choices=("tcn", "gru", "mlp"))
    hidden: int = spec(32, gt=0)
    window: int = spec(64, gt=0, doc="periods at the device rate")
    channels: list[str] = spec(THIGH_CHANNELS)
    mirror: bool = spec(False, doc="one leg's network serves both legs, the left leg's IMUs reflected (distill.models)")
    streaming: bool = spec(
        True,
        doc="export the TCN's streaming form: one new sample per call, its convolutions' recent inputs carried as "
        "state (distill/streaming.py); trained windowed either way. GRU and MLP students export windowed",
    )

    def validate(self) -> list[str]:
        """Checked at load, before any rollout: the streaming form must reproduce the windowed student exactly."""
        field = tcn_receptive_field()
        if self.streaming and self.architecture == "tcn" and self.window < field:
            return [
                f"window: {self.window} periods do not cover the TCN's receptive field ({field}), which its streaming "
                f"export needs; use window >= {field} or streaming: false"
            ]
        return []


@dataclass(frozen=True)
class DistillConfig:
    teacher: str
    """Teacher run directory (relative to the repository root), any checkpoint."""
    out_dir: str = spec("runs/distill/default")
    speeds_m_s: list[float] = spec([0.8, 1.0, 1.25, 1.5])
    slopes_deg: list[float] = spec([-10.0, -5.0, 0.0, 5.0, 10.0])
    held_out_speeds_m_s: list[float] = spec([1.1])
    held_out_slopes_deg: list[float] = spec([7.5])
    episodes_per_condition: int = spec(1, gt=0)
    tracking_episodes: int = spec(
        4,
        gt=0,
        doc="eval: teacher walks per condition that r and RMSE are measured over (one walk alone swung r by up to 0.4)",
    )
    closed_loop_episodes: int = spec(
        16, gt=0, doc="eval: seeds per condition the student, the teacher and the zero-torque exo each walk (paired)"
    )
    episode_s: float = spec(10.0, gt=0.0)
    randomisation: RandomisationConfig = spec(RandomisationConfig())
    student: StudentConfig = spec(StudentConfig())
    epochs: int = spec(20, gt=0)
    batch_size: int = spec(256, gt=0)
    learning_rate: float = spec(1e-3, gt=0.0)
    dagger_iterations: int = spec(2, ge=0, doc="rounds in which the student drives the exo and the teacher labels")
    seed: int = spec(0)


register_kind("distill", DistillConfig)
