"""The simulator interface every backend implements (MuJoCo by default, SCONE when sconepy is present).

A backend owns one human model with hip-exo torque actuators. It is stepped with muscle excitations
and the hip-exo torques in N·m (right, left; positive assists flexion), and reports what the teacher
observes and what the device would measure. Names and orders are fixed per backend and exposed as
attributes so callers never hard-code indices.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from teacher.sim.metabolics import MuscleEnergyState

JOINTS = ("pelvis_tilt", "hip_r", "knee_r", "ankle_r", "hip_l", "knee_l", "ankle_l")
"""Sagittal joint angles every backend reports, in this order (radians; knee flexion negative)."""
COORDINATES = {
    "pelvis_tilt": "pelvis_tilt",
    "hip_r": "hip_flexion_r",
    "knee_r": "knee_angle_r",
    "ankle_r": "ankle_angle_r",
    "hip_l": "hip_flexion_l",
    "knee_l": "knee_angle_l",
    "ankle_l": "ankle_angle_l",
}
"""Each of :data:`JOINTS` by its OpenSim coordinate name, which both models (MuJoCo's and SCONE's) keep."""


@dataclass(frozen=True)
class BodyState:
    """Kinematics and contacts at one instant (SI units, world frame with x forward and z up)."""

    time_s: float
    joint_angles: np.ndarray
    """Angles of :data:`JOINTS`."""
    joint_velocities: np.ndarray
    root_position: np.ndarray
    """Pelvis (x, z)."""
    root_velocity: np.ndarray
    """Pelvis (vx, vz)."""
    com_position: np.ndarray
    com_velocity: np.ndarray
    foot_positions: np.ndarray
    """(side, xz) of each calcaneus relative to the pelvis."""
    foot_velocities: np.ndarray
    """(side, xz) world velocity of each calcaneus."""
    contact_forces: np.ndarray
    """Normal force (N) under right heel, right toes, left heel, left toes."""
    joint_moments_nm: np.ndarray
    """Net actuator moment about each leg joint (muscles + exo), ``JOINTS[1:]`` order, positive along the joint's
    coordinate (hip flexion, knee extension, ankle dorsiflexion)."""

    @property
    def hip_moments_nm(self) -> np.ndarray:
        """(right, left), flexion positive."""
        return self.joint_moments_nm[[0, 3]]


class SimBackend(ABC):
    """A musculoskeletal walker with a bilateral hip exoskeleton."""

    muscle_names: tuple[str, ...]
    imu_names: tuple[str, ...]
    physics_dt_s: float
    body_mass_kg: float
    """Subject plus device mass."""

    @abstractmethod
    def reset(
        self,
        joint_angles: np.ndarray | None = None,
        joint_velocities: np.ndarray | None = None,
        forward_speed_m_s: float = 0.0,
    ) -> None:
        """Standing pose, or the given :data:`JOINTS` angles/velocities with the feet on the ground."""

    @abstractmethod
    def step(self, excitations: np.ndarray, exo_torque_nm: np.ndarray, substeps: int = 1) -> None:
        """Advance ``substeps`` physics steps holding excitations (0..1) and exo torques (N·m) constant."""

    @abstractmethod
    def root_coordinates(self) -> np.ndarray:
        """(forward, vertical, tilt) positions then velocities of the root: cheap, for per-period use."""

    @abstractmethod
    def set_root_force(self, force: np.ndarray) -> None:
        """Generalised forces on the root DOFs (forward N, vertical N, pelvis tilt N·m), held until changed.

        Used only by the training curriculum's root support (a helping hand, annealed to zero).
        """

    @abstractmethod
    def set_slope(self, slope_deg: float) -> None:
        """Walk uphill for positive degrees."""

    @abstractmethod
    def body_state(self) -> BodyState: ...

    @abstractmethod
    def muscle_state(self) -> MuscleEnergyState: ...

    @abstractmethod
    def imu(self) -> np.ndarray:
        """(len(imu_names), 6): gyro xyz rad/s, accel xyz m/s^2 (gravity included), sensor frames.

        Readings may lag the state by at most one physics step (MuJoCo evaluates sensors at the start
        of a step: 2 ms at the default rate), well inside real IMU latency.
        """

    @abstractmethod
    def foot_positions_for(self, joint_angles: np.ndarray) -> np.ndarray:
        """(side, xz) heel positions relative to the pelvis for a pose, without touching the simulation."""

    @abstractmethod
    def muscle_parameters(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per muscle: maximum isometric force (N), optimal fibre length (m), max shortening velocity (l_opt/s)."""

    @abstractmethod
    def muscle_torque_map(self, muscles: MuscleEnergyState) -> np.ndarray:
        """(joint, muscle) torque in N·m per unit activation at the current state, for the joints after the
        pelvis in ``JOINTS`` order: moment arm × the active force an activation of 1 would produce.

        ``muscles`` is :meth:`muscle_state` at this same instant (the caller has it already)."""
