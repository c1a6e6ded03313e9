"""The hip assistance profile (:class:`teacher.config.HipProfile`, re-exported here): the bounds CMA-ES
searches it within, and a policy that wears it on the gait clock of its observation."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import fields

import numpy as np

from teacher.config import HipProfile

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


def profile_at(profiles: Mapping[tuple[float, float], HipProfile], speed_m_s: float, slope_deg: float) -> HipProfile:
    """The profile for a walk at ``speed_m_s`` on ``slope_deg`` from profiles tuned at several conditions
    ((speed m/s, slope degrees) → profile). At each tuned slope, each parameter is linear in speed between the
    speeds tuned there and held beyond them; between the tuned slopes it is linear in slope, and held beyond the
    outermost, as the prior's slope settings are. So a slope tuned at one speed assists alike at every speed."""
    if not profiles:
        raise ValueError("profile_at needs at least one profile")
    names = [f.name for f in fields(HipProfile)]
    slopes = sorted({slope for _, slope in profiles})
    at_slopes = []
    for slope in slopes:
        tuned = sorted(((speed, p) for (speed, s), p in profiles.items() if s == slope), key=lambda item: item[0])
        speeds = [speed for speed, _ in tuned]
        at_slopes.append([np.interp(speed_m_s, speeds, [getattr(p, n) for _, p in tuned]) for n in names])
    return HipProfile(
        **{n: float(np.interp(slope_deg, slopes, [row[k] for row in at_slopes])) for k, n in enumerate(names)}
    )


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
