"""The embedded default backend: MuJoCo with myolegs22 (22 muscles, planar) and the Hippo_L1 hip exo."""

from __future__ import annotations

import math

import mujoco
import numpy as np
from numba import njit

from firmware_bridge.config import DeviceConfig, SubjectConfig
from teacher.sim.backend import COORDINATES, JOINTS, BodyState, SimBackend
from teacher.sim.metabolics import MuscleEnergyState
from teacher.sim.model import EXO_ACTUATOR_FULL_SCALE_NM, EXO_ACTUATORS, build_model
from teacher.sim.muscle_architecture import optimal_fibre_lengths
from teacher.sim.muscle_curves import force_length, force_velocity

FOOT_GEOMS = ("calcn_r_geom_1", "toes_r_geom_1", "calcn_l_geom_1", "toes_l_geom_1")
FOOT_SEGMENTS = ("calcn_r", "toes_r", "calcn_l", "toes_l")
"""Heel and toes per side, in the order of ``BodyState.contact_forces``."""
STANDING_KEYFRAME = "stand"
PYRAMIDAL_ROW = int(mujoco.mjtConstraint.mjCNSTR_CONTACT_PYRAMIDAL)
FRICTIONLESS_ROW = int(mujoco.mjtConstraint.mjCNSTR_CONTACT_FRICTIONLESS)
ELLIPTIC_ROW = int(mujoco.mjtConstraint.mjCNSTR_CONTACT_ELLIPTIC)


class MujocoBackend(SimBackend):
    def __init__(self, device: DeviceConfig, subject: SubjectConfig, physics_dt_s: float = 0.002):
        self.model, imu_sites = build_model(device, subject, physics_dt_s)
        self.data = mujoco.MjData(self.model)
        m = self.model
        self.physics_dt_s = physics_dt_s
        self.body_mass_kg = float(m.body_subtreemass[0])
        self.gravity_m_s2 = float(np.linalg.norm(m.opt.gravity))
        self._muscles = np.array([i for i in range(m.nu) if m.actuator_dyntype[i] == mujoco.mjtDyn.mjDYN_MUSCLE])
        self.muscle_names = tuple(m.actuator(i).name for i in self._muscles)
        self._exo = np.array([m.actuator(name).id for name in EXO_ACTUATORS])
        self.imu_names = tuple(site.name for site in imu_sites)
        self._imu_adr = np.array(
            [
                [
                    *range(m.sensor_adr[m.sensor(s.gyro_sensor).id], m.sensor_adr[m.sensor(s.gyro_sensor).id] + 3),
                    *range(m.sensor_adr[m.sensor(s.accel_sensor).id], m.sensor_adr[m.sensor(s.accel_sensor).id] + 3),
                ]
                for s in imu_sites
            ]
        )
        segment_of_body = np.full(m.nbody, -1)
        segment_of_body[[m.body(name).id for name in FOOT_SEGMENTS]] = np.arange(len(FOOT_SEGMENTS))
        self._segment_of_geom = segment_of_body[m.geom_bodyid]
        joints = [m.joint(COORDINATES[j]) for j in JOINTS]
        self._qadr = np.array([j.qposadr[0] for j in joints])
        self._dadr = np.array([j.dofadr[0] for j in joints])
        self._hip_dofs = self._dadr[[1, 4]]
        self._root_z = m.joint("pelvis_ty").qposadr[0]
        # pelvis_tx/ty are the first joints, both slides: the same index into qpos and qvel
        self._root_xz = np.array([m.joint("pelvis_tx").qposadr[0], self._root_z])
        self._xz = np.array([0, 2])
        root = [m.joint(j) for j in ("pelvis_tx", "pelvis_ty", "pelvis_tilt")]
        self._root_dofs = np.array([j.dofadr[0] for j in root])
        self._root_qpos = np.array([j.qposadr[0] for j in root])
        self._pelvis = m.body("pelvis").id
        self._feet = np.array([m.body("calcn_r").id, m.body("calcn_l").id])
        self._foot_geoms = [m.geom(g).id for g in FOOT_GEOMS]
        self._key = m.key(STANDING_KEYFRAME).id
        self._coupled = [e for e in range(m.neq) if m.eq_type[e] == mujoco.mjtEq.mjEQ_JOINT]
        lr = m.actuator_lengthrange[self._muscles]
        rng = m.actuator_gainprm[self._muscles, :2]
        self._optimal_length = (lr[:, 1] - lr[:, 0]) / (rng[:, 1] - rng[:, 0])
        self._length_offset = lr[:, 0] - rng[:, 0] * self._optimal_length
        prm = m.actuator_gainprm[self._muscles]
        self._f_max, self._lmin, self._lmax, self._vmax, self._fvmax = (
            prm[:, 2],
            prm[:, 4],
            prm[:, 5],
            prm[:, 6],
            prm[:, 8],
        )
        self._actadr = m.actuator_actadr[self._muscles]
        self._exo_scale = 1.0 / EXO_ACTUATOR_FULL_SCALE_NM
        self._velocity = np.zeros(6)
        self._scratch = mujoco.MjData(m)
        self._moment = np.zeros((m.nu, m.nv))
        self.reset()

    # --- setup -------------------------------------------------------------------------------------
    def reset(self, joint_angles=None, joint_velocities=None, forward_speed_m_s: float = 0.0) -> None:
        m, d = self.model, self.data
        mujoco.mj_resetDataKeyframe(m, d, self._key)
        if joint_angles is not None:
            d.qpos[self._qadr] = joint_angles
        if joint_velocities is not None:
            d.qvel[self._dadr] = joint_velocities
        d.qvel[m.joint("pelvis_tx").dofadr[0]] = forward_speed_m_s
        self._satisfy_couplings()
        mujoco.mj_kinematics(m, d)
        d.qpos[self._root_z] -= self._lowest_foot_point()
        mujoco.mj_forward(m, d)

    def _satisfy_couplings(self) -> None:
        """Put equality-coupled DOFs (knee translation, moving via-points) where their polynomials say."""
        m, d = self.model, self.data
        for e in self._coupled:
            j1, j2 = m.eq_obj1id[e], m.eq_obj2id[e]
            a1, a2 = m.jnt_qposadr[j1], m.jnt_qposadr[j2]
            x = d.qpos[a2] - m.qpos0[a2]
            xd = d.qvel[m.jnt_dofadr[j2]]
            c = m.eq_data[e][:5]
            d.qpos[a1] = m.qpos0[a1] + c[0] + c[1] * x + c[2] * x**2 + c[3] * x**3 + c[4] * x**4
            d.qvel[m.jnt_dofadr[j1]] = (c[1] + 2 * c[2] * x + 3 * c[3] * x**2 + 4 * c[4] * x**3) * xd

    def _lowest_foot_point(self) -> float:
        m, d = self.model, self.data
        lowest = math.inf
        for g in self._foot_geoms:
            mesh = m.geom_dataid[g]
            verts = m.mesh_vert[m.mesh_vertadr[mesh] : m.mesh_vertadr[mesh] + m.mesh_vertnum[mesh]]
            z = d.geom_xpos[g][2] + verts @ d.geom_xmat[g].reshape(3, 3)[2]
            lowest = min(lowest, float(z.min()))
        return lowest

    def root_coordinates(self) -> np.ndarray:
        d = self.data
        return np.r_[d.qpos[self._root_qpos], d.qvel[self._root_dofs]]

    def set_root_force(self, force: np.ndarray) -> None:
        self.data.qfrc_applied[self._root_dofs] = force

    def set_slope(self, slope_deg: float) -> None:
        theta = math.radians(slope_deg)
        self.model.opt.gravity[:] = (-self.gravity_m_s2 * math.sin(theta), 0.0, -self.gravity_m_s2 * math.cos(theta))

    # --- stepping ----------------------------------------------------------------------------------
    def step(self, excitations: np.ndarray, exo_torque_nm: np.ndarray, substeps: int = 1) -> None:
        d = self.data
        # MuJoCo clamps ctrl to each actuator's ctrlrange (ctrllimited), so no clipping here.
        d.ctrl[self._muscles] = excitations
        d.ctrl[self._exo] = exo_torque_nm
        d.ctrl[self._exo] *= self._exo_scale
        mujoco.mj_step(self.model, d, nstep=substeps)

    # --- readings ----------------------------------------------------------------------------------
    def body_state(self) -> BodyState:
        m, d = self.model, self.data
        mujoco.mj_subtreeVel(m, d)
        foot_vel = np.empty((2, 2))
        for side, body in enumerate(self._feet):
            mujoco.mj_objectVelocity(m, d, mujoco.mjtObj.mjOBJ_BODY, body, self._velocity, 0)
            foot_vel[side] = self._velocity[3::2]
        xpos, qpos, qvel = d.xpos, d.qpos, d.qvel
        # fancy indexing copies: a BodyState never aliases MjData, which the next step overwrites
        return BodyState(
            time_s=d.time,
            joint_angles=qpos[self._qadr],
            joint_velocities=qvel[self._dadr],
            root_position=qpos[self._root_xz],
            root_velocity=qvel[self._root_xz],
            com_position=d.subtree_com[0, self._xz],
            com_velocity=d.subtree_linvel[0, self._xz],
            foot_positions=(xpos[self._feet] - xpos[self._pelvis])[:, ::2],
            foot_velocities=foot_vel,
            contact_forces=self._foot_contact_forces(),
            joint_moments_nm=d.qfrc_actuator[self._dadr[1:]],
        )

    def _foot_contact_forces(self) -> np.ndarray:
        """Normal contact force on each foot segment, summed over its contacts.

        From the contact solver rather than the model's touch sensors: the left heel's touch site misses
        the heel's contact points (measured: 0 N through a 556 N heel strike).
        """
        d = self.data
        if d.ncon == 0:
            return np.zeros(len(FOOT_SEGMENTS))
        rows = d.nefc
        contacts = d.contact
        return _foot_normal_forces(
            d.efc_force[:rows],
            d.efc_id[:rows],
            d.efc_type[:rows],
            contacts.efc_address,
            contacts.geom,
            self._segment_of_geom,
            len(FOOT_SEGMENTS),
        )

    def muscle_state(self) -> MuscleEnergyState:
        d = self.data
        lengths = d.actuator_length[self._muscles]
        velocities = d.actuator_velocity[self._muscles]
        length_norm = (lengths - self._length_offset) / self._optimal_length
        velocity_lopt = velocities / self._optimal_length
        activation = d.act[self._actadr]
        fl = force_length(length_norm, self._lmin, self._lmax)
        fv = force_velocity(velocity_lopt / self._vmax, self._fvmax)
        return MuscleEnergyState(
            excitation=d.ctrl[self._muscles].copy(),
            activation=activation.copy(),
            fiber_length_norm=length_norm,
            fiber_velocity_lopt=velocity_lopt,
            fiber_velocity_m_s=velocities.copy(),
            active_force_n=self._f_max * fl * fv * activation,
            force_length_multiplier=fl,
        )

    def imu(self) -> np.ndarray:
        return self.data.sensordata[self._imu_adr].copy()

    def foot_positions_for(self, joint_angles: np.ndarray) -> np.ndarray:
        scratch = self._scratch
        scratch.qpos[:] = self.model.qpos0
        scratch.qpos[self._qadr] = joint_angles
        mujoco.mj_kinematics(self.model, scratch)
        return (scratch.xpos[self._feet] - scratch.xpos[self._pelvis])[:, [0, 2]]

    def muscle_parameters(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The fibre lengths are the published ones (:mod:`teacher.sim.muscle_architecture`): MuJoCo's L0, which
        normalises length and velocity in the physics, is a musculotendon length scale, not a fibre length."""
        return self._f_max.copy(), optimal_fibre_lengths(self.muscle_names), self._vmax.copy()

    def muscle_torque_map(self, muscles: MuscleEnergyState) -> np.ndarray:
        d = self.data
        mujoco.mju_sparse2dense(self._moment, d.actuator_moment, d.moment_rownnz, d.moment_rowadr, d.moment_colind)
        fv = force_velocity(muscles.fiber_velocity_lopt / self._vmax, self._fvmax)
        # MuJoCo's muscle force is negative (pulling) while its moment is d(length)/d(q): torque = moment × force.
        force_per_activation = -self._f_max * muscles.force_length_multiplier * fv
        return self._moment[self._muscles][:, self._dadr[1:]].T * force_per_activation


@njit(cache=True)
def _foot_normal_forces(efc_force, efc_contact, efc_type, contact_first_row, contact_geoms, segment_of_geom, segments):
    """Per foot segment, the sum of its contacts' normal forces.

    A pyramidal contact's normal force is the sum of its edge rows, added in row order from zero as
    ``mj_contactForce`` (``mju_decodePyramid``) adds them, so the result has the same bits; an elliptic
    contact's is its first row. Compiled: one Python call per contact cost ~10 µs each.
    """
    normal = np.zeros(len(contact_first_row))
    for row in range(len(efc_force)):
        kind, contact = efc_type[row], efc_contact[row]
        if (
            kind == PYRAMIDAL_ROW
            or kind == FRICTIONLESS_ROW
            or (kind == ELLIPTIC_ROW and contact_first_row[contact] == row)
        ):
            normal[contact] += efc_force[row]
    forces = np.zeros(segments)
    for contact in range(len(normal)):
        for side in range(2):
            segment = segment_of_geom[contact_geoms[contact, side]]
            if segment >= 0:
                forces[segment] += normal[contact]
    return forces
