"""Muscle metabolic power: Umberger et al. 2003 with the Uchida et al. 2016 modifications.

Per muscle, in W per kg of muscle (Umberger's notation; fibre velocity in optimal lengths per second,
negative = shortening):

- activation/maintenance heat ``AM = S · A^0.6 · (128 f_FT + 25)``; above optimal length it is
  scaled ``(0.4 + 0.6 F_iso)``;
- shortening heat ``S · A^2 · (min(100, -α_ST v) (1 - f_FT) - α_FT v f_FT)`` with
  ``α_ST = 100 / v_max,ST``, ``α_FT = 153 / v_max,FT``, ``v_max,ST = v_max,FT / 2.5``;
  lengthening heat ``S · A · α_L v`` with **α_L = 0.3 α_ST** (Uchida 2016). Both are scaled by
  ``F_iso`` above optimal length;
- mechanical work ``-F_active · v / m``, **shortening only** (Uchida 2016: negative work is
  not credited back);
- ``A = u`` if excitation ``u`` exceeds activation ``a``, else ``(u + a) / 2``;
- the total must not go negative (shortening heat raised to compensate), and the heat rate
  ``AM + S`` of an active muscle (``A > 0``) is at least 1 W/kg (Umberger 2003, p. 104). A muscle
  with no excitation and no activation costs nothing beyond the basal rate.

Whole-body: ``basal_w_per_kg · body mass + Σ muscle mass · rate``. Muscle mass is
``ρ · (F_max / σ) · l_opt`` with ρ = 1059.7 kg/m³ and σ = 0.6 MPa, the specific tension the model's strengths
assume (Rajagopal et al. 2016, from which the maximum forces come), with published optimal fibre lengths
(:mod:`teacher.sim.muscle_architecture`). For the 77.9 kg walker that is 10.2 kg of leg muscle, 13 % of body mass.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

MUSCLE_DENSITY_KG_M3 = 1059.7
SPECIFIC_TENSION_PA = 0.6e6
MAX_SLOW_TWITCH_SHORTENING_HEAT = 100.0


@dataclass(frozen=True)
class MetabolicParams:
    fast_twitch_fraction: np.ndarray
    """Per muscle, 0..1."""
    muscle_mass_kg: np.ndarray
    vmax_fast_lopt_per_s: np.ndarray
    """Maximum shortening velocity of fast-twitch fibres, optimal lengths per second."""
    aerobic_factor: float = 1.5
    basal_w_per_kg: float = 1.2
    body_mass_kg: float = 75.0

    @staticmethod
    def muscle_mass(max_force_n: np.ndarray, optimal_length_m: np.ndarray) -> np.ndarray:
        return MUSCLE_DENSITY_KG_M3 * (np.asarray(max_force_n) / SPECIFIC_TENSION_PA) * np.asarray(optimal_length_m)


@dataclass(frozen=True)
class MuscleEnergyState:
    """What the probe reads from the simulator, per muscle, at one instant."""

    excitation: np.ndarray
    activation: np.ndarray
    fiber_length_norm: np.ndarray
    """Fibre length / optimal length."""
    fiber_velocity_lopt: np.ndarray
    """Fibre velocity in optimal lengths per second, negative = shortening."""
    fiber_velocity_m_s: np.ndarray
    active_force_n: np.ndarray
    force_length_multiplier: np.ndarray
    """Active force-length curve value F_iso at the current length (0..1)."""


@dataclass(frozen=True)
class MetabolicRate:
    total_w: float
    basal_w: float
    per_muscle_w: np.ndarray
    activation_maintenance_w_per_kg: np.ndarray
    shortening_w_per_kg: np.ndarray
    mechanical_w_per_kg: np.ndarray


def fibre_work_w(state: MuscleEnergyState) -> tuple[float, float]:
    """Mechanical power of the muscle fibres' active force, summed over muscles (W): shortening (≥ 0, what the probe
    charges as work) and lengthening (≤ 0, absorbed; the probe credits none of it back). Their sum is the net
    work the muscles put into the body; a gait whose muscles work against each other has both large."""
    force = np.maximum(state.active_force_n, 0.0)
    velocity = np.asarray(state.fiber_velocity_m_s)
    return float(np.sum(force * np.maximum(-velocity, 0.0))), float(-np.sum(force * np.maximum(velocity, 0.0)))


def metabolic_rate(params: MetabolicParams, state: MuscleEnergyState) -> MetabolicRate:
    am, sl, work, per_muscle = _muscle_rates(
        state.excitation,
        state.activation,
        state.fiber_length_norm,
        state.force_length_multiplier,
        state.fiber_velocity_lopt,
        state.fiber_velocity_m_s,
        state.active_force_n,
        params.fast_twitch_fraction,
        params.vmax_fast_lopt_per_s,
        params.muscle_mass_kg,
        params.aerobic_factor,
    )
    basal = params.basal_w_per_kg * params.body_mass_kg
    return MetabolicRate(float(basal + per_muscle.sum()), basal, per_muscle, am, sl, work)


@njit(cache=True)
def _muscle_rates(u, a, length_norm, f_iso, v, v_m_s, active_force_n, f_ft, vmax_ft, mass, scale):
    """Per muscle: activation/maintenance, shortening/lengthening and work rates (W/kg), and power (W).

    One compiled loop: the env evaluates the probe every control step, and the same formulas as numpy
    array expressions cost ~35 µs of small-array overhead per call.
    """
    n = len(u)
    am, sl, work, per_muscle = np.empty(n), np.empty(n), np.empty(n), np.empty(n)
    for i in range(n):
        a_dep = u[i] if u[i] > a[i] else 0.5 * (u[i] + a[i])
        long = length_norm[i] > 1.0
        am_i = 128.0 * f_ft[i] + 25.0
        if long:
            am_i *= 0.4 + 0.6 * f_iso[i]
        am_i *= scale * a_dep**0.6
        alpha_st = 100.0 / (vmax_ft[i] / 2.5)
        alpha_ft = 153.0 / vmax_ft[i]
        if v[i] <= 0.0:
            slow = min(-alpha_st * v[i], MAX_SLOW_TWITCH_SHORTENING_HEAT)
            sl_i = scale * a_dep**2 * (slow * (1.0 - f_ft[i]) - alpha_ft * v[i] * f_ft[i])
        else:
            sl_i = scale * a_dep * 0.3 * alpha_st * v[i]
        if long:
            sl_i *= f_iso[i]
        force = max(active_force_n[i], 0.0)
        work_i = (-force * v_m_s[i] if v_m_s[i] <= 0.0 else 0.0) / mass[i]
        if am_i + sl_i + work_i < 0.0:
            sl_i -= am_i + sl_i + work_i
        heat = max(am_i + sl_i, 1.0) if a_dep > 0.0 else am_i + sl_i
        am[i], sl[i], work[i] = am_i, sl_i, work_i
        per_muscle[i] = (heat + work_i) * mass[i]
    return am, sl, work, per_muscle
