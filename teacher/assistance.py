"""A phase-based hip assistance profile: the few parameters CMA-ES tunes, and a policy that wears it.

Per side, hip torque over the gait cycle (right heel strike = 0) is a flexion bump minus an extension bump, each a raised cosine (``amplitude · ½(1 + cos(π d / width))`` within ``width`` of
its centre, circular in phase). The left side follows half a cycle later. Torques are N·m per kg of the
subject, flexion +, as the device's normalised command is (``command_full_scale_nm_per_kg``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import numpy as np

from teacher.sim.reference import SIDE_PHASE_OFFSETS


@dataclass(frozen=True)
class HipProfile:
    extension_nm_per_kg: float
    extension_at: float
    """Centre of the extension bump, share of the gait cycle (may lie below 0 or above 1: it wraps)."""
    extension_width: float
    flexion_nm_per_kg: float
    flexion_at: float
    flexion_width: float

    def torque_nm_per_kg(self, phase: np.ndarray | float) -> np.ndarray:
        """Hip torque at each gait phase (flexion +)."""
        phase = np.asarray(phase, dtype=np.float64)
        return self.flexion_nm_per_kg * _bump(phase, self.flexion_at, self.flexion_width) - (
            self.extension_nm_per_kg * _bump(phase, self.extension_at, self.extension_width)
        )

    def commands(self, phase: float, full_scale_nm_per_kg: float) -> np.ndarray:
        """Normalised device commands (right, left) at the right leg's gait phase."""
        torque = self.torque_nm_per_kg(phase + SIDE_PHASE_OFFSETS)
        return np.clip(torque / full_scale_nm_per_kg, -1.0, 1.0)

    def as_dict(self) -> dict[str, float]:
        return {k: round(float(v), 5) for k, v in asdict(self).items()}


PROFILE_BOUNDS = {
    "extension_nm_per_kg": (0.0, 0.25),
    "extension_at": (-0.25, 0.25),
    "extension_width": (0.05, 0.3),
    "flexion_nm_per_kg": (0.0, 0.25),
    "flexion_at": (0.3, 0.8),
    "flexion_width": (0.05, 0.3),
}
"""Search bounds: torques up to the device's full scale, extension around heel strike, flexion around push-off
and early swing (Young et al. 2017: best extension ~90 % GC, best flexion ~50 % GC)."""


def profile_from_unit(unit: np.ndarray) -> HipProfile:
    """A profile from a point in the unit cube (CMA-ES searches there, every parameter on the same scale)."""
    values = {}
    for f, u in zip(fields(HipProfile), np.clip(unit, 0.0, 1.0), strict=True):
        low, high = PROFILE_BOUNDS[f.name]
        values[f.name] = low + (high - low) * float(u)
    return HipProfile(**values)


def unit_from_profile(profile: HipProfile) -> np.ndarray:
    unit = []
    for f in fields(HipProfile):
        low, high = PROFILE_BOUNDS[f.name]
        unit.append((getattr(profile, f.name) - low) / (high - low))
    return np.array(unit)


def _bump(phase: np.ndarray, centre: float, width: float) -> np.ndarray:
    distance = np.abs((phase - centre + 0.5) % 1.0 - 0.5)
    return np.where(distance < width, 0.5 * (1.0 + np.cos(np.pi * distance / width)), 0.0)


class ProfileAssisted:
    """A teacher whose muscle actions are its own and whose exo commands follow ``profile`` on the gait clock.

    The clock is the privileged observation's phase (:func:`teacher.env.walker.phase_index`), the one the exo
    head sees. ``human`` is any policy with ``act`` and ``sim_config`` (a :class:`teacher.policy.TeacherPolicy`).
    """

    def __init__(self, human, profile: HipProfile, full_scale_nm_per_kg: float):
        from teacher.env.walker import phase_index

        self.human, self.profile, self.sim_config = human, profile, human.sim_config
        self.phase_index, self.full_scale = phase_index(human.sim_config), full_scale_nm_per_kg

    def act(self, observation: np.ndarray) -> np.ndarray:
        action = np.array(self.human.act(observation), dtype=np.float64)
        sin, cos = observation[self.phase_index], observation[self.phase_index + 1]
        phase = (math.atan2(sin, cos) / (2.0 * math.pi)) % 1.0
        action[-2:] = self.profile.commands(phase, self.full_scale)
        return action
