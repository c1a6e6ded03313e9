"""The muscle-space tracking prior (``SimConfig.tracking_prior``): PD joint torques → excitations.

A pure function of the state, so the policy only has to learn a residual on top of a controller that
already steps along the reference gait (and, with ``balance``, keeps the pelvis upright).
"""

from __future__ import annotations

import mujoco
import numpy as np

from teacher.config import BalanceConfig, TrackingPriorConfig, slope_terms
from teacher.sim.backend import BodyState

GRAVITY = 9.81
STANCE_SPLIT_M = 0.1
"""How far (m) the centre of mass passes a stance foot before the early- or late-stance slope terms act fully."""
HIPS = np.array([0, 3])
"""Index of each hip (right, left) among the six leg joints."""


def desired_torques(
    config: TrackingPriorConfig,
    body: BodyState,
    reference_angles: np.ndarray,
    reference_velocities: np.ndarray,
    speed_m_s: float,
    body_weight_n: float,
    slope_deg: float = 0.0,
    reference_moments: np.ndarray | None = None,
) -> np.ndarray:
    """Joint torques (N·m, six leg joints) toward the reference, balanced where ``config.balance`` says.

    ``config.feedforward`` of ``reference_moments`` (N·m, six leg joints: the reference's inverse-dynamics
    moments) is added to the PD torques, so that feedback only corrects errors. On a slope "upright" means
    along gravity, not perpendicular to the ground (the sim tilts gravity), leaning forward by the slope
    setting's ``trunk_lean_rad`` (``config.slopes``), whose stance torques are added; its reference offsets are
    in ``reference_angles`` already (the env tracks the same slope-adjusted reference).
    """
    angles, velocities = body.joint_angles[1:], body.joint_velocities[1:]
    balance = config.balance
    target = np.array(reference_angles, dtype=np.float64)
    slope = slope_terms(tuple(config.slopes), slope_deg) if config.slopes else None
    stance = stance_weights(balance, body.contact_forces / body_weight_n)
    if balance.enabled:
        tilt = tilt_from_vertical(body, slope_deg) + (0.0 if slope is None else slope[0])
        target[HIPS] += (1.0 - stance) * swing_hip_offset(balance, body, tilt, speed_m_s)
    torques = pd_torques(config, angles, velocities, target, reference_velocities)
    if config.feedforward and reference_moments is not None:
        torques = torques + config.feedforward * reference_moments
    if slope is not None:
        com_ahead = body.com_position[0] - (body.root_position[0] + body.foot_positions[:, 0])
        torques += stance_slope_torques(
            slope, stance, com_ahead, body.com_velocity[0] - speed_m_s, body_weight_n / GRAVITY
        )
    if balance.enabled:
        torques[HIPS] = balanced_hip_torques(balance, body, tilt, torques[HIPS], stance)
    return torques


def slope_offsets(terms: np.ndarray) -> np.ndarray:
    """Reference offsets (rad, six leg joints in the model's signs) from :data:`SLOPE_TERMS` values."""
    _, hip, knee_flexion, ankle = terms[:4]
    return np.array([hip, -knee_flexion, ankle] * 2)  # the model's knee angle is negative in flexion


def stance_slope_torques(
    terms: np.ndarray, stance: np.ndarray, com_ahead_of_feet_m: np.ndarray, speed_error_m_s: float, mass_kg: float
) -> np.ndarray:
    """Stance knee extension and ankle push-off (N·m, six leg joints, model signs) from :data:`SLOPE_TERMS`
    values, each leg weighted by its share of the load; push-off rises as the walker falls behind its speed.

    The early-stance knee term acts while the foot is ahead of the centre of mass, the late-stance push-off
    while it is behind (``com_ahead_of_feet_m``, right and left), each reaching full strength
    :data:`STANCE_SPLIT_M` from the crossing: uphill the knee lifts the body early and the ankle pushes late.
    """
    knee, ankle, propulsion, early_knee, late_push = terms[4:9]
    push_off = ankle - propulsion * speed_error_m_s
    late = np.clip(com_ahead_of_feet_m / STANCE_SPLIT_M, 0.0, 1.0)
    early = np.clip(-com_ahead_of_feet_m / STANCE_SPLIT_M, 0.0, 1.0)
    knees = stance * (knee + early * early_knee) * mass_kg
    ankles = -stance * (push_off + late * late_push) * mass_kg  # the model's ankle angle is dorsiflexion +
    return np.array([0.0, knees[0], ankles[0], 0.0, knees[1], ankles[1]])


def tilt_from_vertical(body: BodyState, slope_deg: float) -> float:
    """Pelvis tilt (rad, + backward as the model's ``pelvis_tilt``) from the gravity vertical.

    Uphill (slope > 0) the gravity vertical leans forward of the ground's normal by the slope angle.
    """
    return float(body.joint_angles[0] + np.deg2rad(slope_deg))


def pd_torques(
    config: TrackingPriorConfig,
    angles: np.ndarray,
    velocities: np.ndarray,
    reference_angles: np.ndarray,
    reference_velocities: np.ndarray,
) -> np.ndarray:
    """PD law per joint toward the reference, in N·m."""
    return config.kp_nm_per_rad.per_joint() * (reference_angles - angles) + config.kd_nm_s_per_rad.per_joint() * (
        reference_velocities - velocities
    )


def stance_weights(balance: BalanceConfig, foot_loads: np.ndarray) -> np.ndarray:
    """Share of the body's load on each leg (right, left); zero for both in flight.

    ``foot_loads`` is heel and toes per side (right heel, right toes, left heel, left toes) × body weight.
    """
    per_leg = foot_loads.reshape(2, 2).sum(axis=1)
    total = per_leg.sum()
    return per_leg / total if total >= balance.stance_load_min else np.zeros(2)


def swing_hip_offset(balance: BalanceConfig, body: BodyState, tilt: float, speed_m_s: float) -> np.ndarray:
    """Change of each hip's target were it the swing leg: undo pelvis tilt, place the foot for balance.

    The placement term looks at the centre of mass relative to the *other* (stance) foot.
    """
    com_ahead_of_foot = body.com_position[0] - (body.root_position[0] + body.foot_positions[:, 0])
    speed_error = body.com_velocity[0] - speed_m_s
    return (
        -balance.swing_world_frame * tilt
        + balance.placement_position_rad_per_m * com_ahead_of_foot[::-1]
        + balance.placement_velocity_rad_s_per_m * speed_error
    )


def balanced_hip_torques(
    balance: BalanceConfig, body: BodyState, tilt: float, tracking: np.ndarray, stance: np.ndarray
) -> np.ndarray:
    """Hip torques where each stance hip holds the pelvis upright against what the other hip applies.

    A hip torque acts on the pelvis with the opposite sign, so the pelvis gets ``trunk`` when the stance
    hip applies ``-trunk - other hip``; blended with tracking by each leg's stance weight.
    """
    trunk = -balance.trunk_kp_nm_per_rad * tilt - balance.trunk_kd_nm_s_per_rad * body.joint_velocities[0]
    swing_share = (1.0 - stance) * tracking
    holding = -trunk - swing_share[::-1]
    return (1.0 - stance) * tracking + stance * holding


class MuscleAllocator:
    """Excitations in [0, 1] minimising ``|torque_map · e − torques|² + regularisation · |e|²``.

    A strictly convex box-constrained QP. MuJoCo's compiled ``mju_boxQP`` (projected Newton on the free
    subspace), warm-started from the previous control step's solution, solves the walker's problems in 31 µs
    where SciPy's BVLS takes 506 µs, equal to 2e-13. It can stop early on badly conditioned problems (a random
    torque map with a tiny regularisation: 1e-3 of the optimum's cost left), so every solution is checked
    against the optimality (KKT) conditions and, failing them, solved again by BVLS, which is exact.
    ``fallbacks`` counts those. Call :meth:`reset` when an episode starts, so that a seed replays exactly.
    """

    KKT_TOLERANCE = 1e-9
    """Largest optimality violation accepted, relative to the largest linear term (measured on walker states:
    ≤ 7e-16; where ``mju_boxQP`` stopped early: ~8e-5)."""

    def __init__(self, n_muscles: int, regularisation: float):
        n = n_muscles
        self.regularisation = regularisation
        self.fallbacks = 0
        self._solution = np.zeros(n)
        self._factor = np.zeros(n * (n + 7))
        self._free = np.zeros(n, dtype=np.int32)
        self._hessian = np.zeros((n, n))
        self._lower, self._upper = np.zeros(n), np.ones(n)
        self._diagonal = np.arange(n) * (n + 1)

    def reset(self) -> None:
        self._solution[:] = 0.0

    def solve(self, torque_map: np.ndarray, torques: np.ndarray) -> np.ndarray:
        hessian = self._hessian
        np.dot(torque_map.T, torque_map, out=hessian)
        hessian.flat[self._diagonal] += self.regularisation
        gradient = -(torque_map.T @ torques)
        rank = mujoco.mju_boxQP(self._solution, self._factor, self._free, hessian, gradient, self._lower, self._upper)
        if rank < 0 or not self._optimal(hessian, gradient):
            self.fallbacks += 1
            self._solution[:] = self._bvls(torque_map, torques)
        return self._solution.copy()

    def _optimal(self, hessian: np.ndarray, gradient: np.ndarray) -> bool:
        """KKT: zero slope on free excitations, slope pushing outwards at a bound."""
        x = self._solution
        slope = hessian @ x + gradient
        at_lower, at_upper = x <= 0.0, x >= 1.0
        violation = max(
            np.abs(slope[~(at_lower | at_upper)]).max(initial=0.0),
            (-slope[at_lower]).max(initial=0.0),
            slope[at_upper].max(initial=0.0),
        )
        return bool(violation <= self.KKT_TOLERANCE * max(np.abs(gradient).max(), 1.0))

    def _bvls(self, torque_map: np.ndarray, torques: np.ndarray) -> np.ndarray:
        from scipy.optimize import lsq_linear

        if not (np.all(np.isfinite(torque_map)) and np.all(np.isfinite(torques))):
            raise FloatingPointError("muscle allocation failed: non-finite torque map or torques")
        n = torque_map.shape[1]
        system = np.vstack([torque_map, np.sqrt(self.regularisation) * np.eye(n)])
        solution = lsq_linear(system, np.r_[torques, np.zeros(n)], bounds=(0.0, 1.0), method="bvls").x
        return np.clip(solution, 0.0, 1.0)  # BVLS may overstep a bound by rounding (~1e-18)
