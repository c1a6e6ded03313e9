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
``ρ · (F_max / σ) · l_opt`` with ρ = 1059.7 kg/m³, σ = 0.25 MPa specific tension.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MUSCLE_DENSITY_KG_M3 = 1059.7
SPECIFIC_TENSION_PA = 0.25e6
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


def metabolic_rate(params: MetabolicParams, state: MuscleEnergyState) -> MetabolicRate:
    u, a = state.excitation, state.activation
    f_ft = params.fast_twitch_fraction
    scale = params.aerobic_factor
    a_dep = np.where(u > a, u, 0.5 * (u + a))
    long = state.fiber_length_norm > 1.0
    f_iso = state.force_length_multiplier

    am_unscaled = 128.0 * f_ft + 25.0
    am = scale * a_dep**0.6 * np.where(long, am_unscaled * (0.4 + 0.6 * f_iso), am_unscaled)

    v = state.fiber_velocity_lopt
    vmax_ft = params.vmax_fast_lopt_per_s
    alpha_st = 100.0 / (vmax_ft / 2.5)
    alpha_ft = 153.0 / vmax_ft
    slow = np.minimum(-alpha_st * v, MAX_SLOW_TWITCH_SHORTENING_HEAT)
    shortening = scale * a_dep**2 * (slow * (1.0 - f_ft) - alpha_ft * v * f_ft)
    lengthening = scale * a_dep * 0.3 * alpha_st * v
    sl = np.where(v <= 0.0, shortening, lengthening)
    sl = np.where(long, sl * f_iso, sl)

    active_force = np.maximum(state.active_force_n, 0.0)
    work = np.where(state.fiber_velocity_m_s <= 0.0, -active_force * state.fiber_velocity_m_s, 0.0)
    work = work / params.muscle_mass_kg

    deficit = am + sl + work
    sl = np.where(deficit < 0.0, sl - deficit, sl)
    heat = np.where(a_dep > 0.0, np.maximum(am + sl, 1.0), am + sl)
    per_muscle = (heat + work) * params.muscle_mass_kg
    basal = params.basal_w_per_kg * params.body_mass_kg
    return MetabolicRate(float(basal + per_muscle.sum()), basal, per_muscle, am, sl, work)
