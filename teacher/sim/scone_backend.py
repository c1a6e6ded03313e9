"""The SCONE backend: the same :class:`SimBackend` through the real sconepy API (used when it is importable).

sconepy ships only inside SCONE's installer (CPython 3.9; the Hyfydy engine needs a licence), so this
adapter is built against the API as documented (shared/research/sconepy-api.md) and tested against a
contract double that enforces its quirks:

- arrays come back float32 unless ``set_array_dtype_float64()`` is called (we call it);
- ``advance_simulation_to`` takes an **absolute** time, so every step advances from ``model.time()``;
- ``set_state`` resets time to zero, and ``set_dof_positions``/``set_dof_velocities`` only take effect
  after ``init_state_from_dofs()``;
- every input array must have exactly the length of its component list (``actuators()``, ``dofs()``);
- slope and gravity cannot change at run time: one ``.scone`` scenario per whole degree of slope,
  ``hip_exo_slope_{+05}.scone`` in the scenario folder (see teacher/sim/scone/README.md), loaded on
  :meth:`set_slope` and cached.

The hip exo is a pair of ``joint_motor`` actuators (stiffness 0, damping 0) named ``hip_motor_r`` and
``hip_motor_l`` in the model; their input is the torque in N·m, positive = hip flexion.
"""

from __future__ import annotations

import glob
import importlib
import math
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from firmware_bridge.config import DeviceConfig, SubjectConfig
from firmware_bridge.mounting import mounting_matrix
from teacher.sim.backend import COORDINATES, JOINTS, BodyState, SimBackend
from teacher.sim.metabolics import MuscleEnergyState
from teacher.sim.muscle_curves import force_length

ROOT_DOFS = ("pelvis_tx", "pelvis_ty", "pelvis_tilt")
EXO_MOTORS = ("hip_motor_r", "hip_motor_l")
IMU_BODIES = {"pelvis": "pelvis", "thigh_r": "femur_r", "thigh_l": "femur_l"}
FEET = ("calcn_r", "calcn_l")
MUSCLE_GROUP_NAMES = {"glut_max": "glutmax", "rect_fem": "rectfem", "tib_ant": "tibant"}
"""sconegym's muscle names → this project's group names (the metabolic config is keyed by group)."""
MAX_SHORTENING_VELOCITY_LOPT_PER_S = 10.0
"""Hyfydy's default; sconepy does not expose it per muscle."""
ACTIVE_LENGTH_RANGE = (0.5, 1.6)
"""Normalised fibre lengths where the active force-length curve is zero (for the metabolic probe)."""
INITIAL_LOAD_BW = 0.5
SEARCH_DIRS = (
    "{SCONE_PATH}/lib",
    "{SCONE_PATH}/bin",
    "/opt/scone/lib",
    "/opt/scone-core/lib",
    "~/scone/lib",
    "~/scone-core/lib",
)


def import_sconepy() -> ModuleType:
    """``import sconepy`` as SCONE's own ``sconetools`` does: the path, ``$SCONEPY_PATH``, then install folders."""
    try:
        return importlib.import_module("sconepy")
    except ImportError:
        pass
    candidates = [os.environ.get("SCONEPY_PATH", "")]
    candidates += [d.format(SCONE_PATH=os.environ.get("SCONE_PATH", "/nonexistent")) for d in SEARCH_DIRS]
    for folder in candidates:
        folder = os.path.expanduser(folder)
        if folder and glob.glob(os.path.join(folder, "sconepy*.*")):
            sys.path.insert(0, folder)
            return importlib.import_module("sconepy")
    raise ImportError(
        "sconepy not found: install SCONE (https://scone.software) and set $SCONE_PATH or $SCONEPY_PATH; "
        "sconepy is built for CPython 3.9"
    )


def scenario_file(scenario_dir: Path, slope_deg: float) -> Path:
    return Path(scenario_dir) / f"hip_exo_slope_{round(slope_deg):+03d}.scone"


def _by_name(items: list[Any]) -> dict[str, Any]:
    return {item.name(): item for item in items}


def _vec(v: Any) -> np.ndarray:
    return np.array([v.x, v.y, v.z], dtype=float)


def _rotate_into(q: Any, v: np.ndarray) -> np.ndarray:
    """World vector → body frame: q⁻¹ · v for a unit quaternion (w, x, y, z)."""
    w, x, y, z = q.w, q.x, q.y, q.z
    u = np.array([-x, -y, -z])
    return v + 2.0 * np.cross(u, np.cross(u, v) + w * v)


class SconeBackend(SimBackend):
    def __init__(
        self,
        scenario_dir: Path,
        device: DeviceConfig,
        subject: SubjectConfig,
        physics_dt_s: float = 0.002,
        sconepy: ModuleType | None = None,
    ):
        self.sp = sconepy or import_sconepy()
        self.sp.set_array_dtype_float64()
        self.scenario_dir = Path(scenario_dir)
        self.physics_dt_s = physics_dt_s
        self._models: dict[int, Any] = {}
        self._mounts = {m.name: m for m in device.imus}
        self.imu_names = tuple(m.name for m in device.imus)
        self._root_force = np.zeros(3)
        self.set_slope(0.0)
        self.body_mass_kg = float(self.model.mass())

    # --- model selection (one scenario per slope) ----------------------------------------------------
    def set_slope(self, slope_deg: float) -> None:
        key = round(slope_deg)
        if key not in self._models:
            path = scenario_file(self.scenario_dir, key)
            if not path.is_file():
                available = sorted(p.name for p in self.scenario_dir.glob("hip_exo_slope_*.scone"))
                raise FileNotFoundError(f"no SCONE scenario for {key:+d}° slope: {path} (have {available})")
            self._models[key] = self.sp.load_model(str(path))
        self.model = self._models[key]
        self._index_model()

    def _index_model(self) -> None:
        m = self.model
        self._dofs = m.dofs()
        dof_names = [d.name() for d in self._dofs]
        missing = [n for n in [*COORDINATES.values(), *ROOT_DOFS] if n not in dof_names]
        if missing:
            raise ValueError(f"SCONE model lacks DOFs {missing}; it has {dof_names}")
        self._joint_idx = np.array([dof_names.index(COORDINATES[j]) for j in JOINTS])
        self._root_idx = np.array([dof_names.index(n) for n in ROOT_DOFS])
        actuators = [a.name() for a in m.actuators()]
        if any(name not in actuators for name in EXO_MOTORS):
            raise ValueError(f"SCONE model lacks the hip-exo joint motors {EXO_MOTORS}; actuators are {actuators}")
        self._muscles = m.muscles()
        muscle_names = [mu.name() for mu in self._muscles]
        self._muscle_act_idx = np.array([actuators.index(n) for n in muscle_names])
        self._exo_idx = np.array([actuators.index(n) for n in EXO_MOTORS])
        self._inputs = np.zeros(len(actuators))
        self.muscle_names = tuple(self._project_name(n) for n in muscle_names)
        self._bodies = _by_name(m.bodies())
        self._leg_dofs = [self._dofs[i] for i in self._joint_idx[1:]]
        self._root_dof_objects = [self._dofs[i] for i in self._root_idx]

    @staticmethod
    def _project_name(name: str) -> str:
        group, _, side = name.rpartition("_")
        return f"{MUSCLE_GROUP_NAMES.get(group, group)}_{side}"

    # --- simulation -----------------------------------------------------------------------------------
    def reset(self, joint_angles=None, joint_velocities=None, forward_speed_m_s: float = 0.0) -> None:
        m = self.model
        m.reset()
        positions, velocities = m.dof_position_array(), m.dof_velocity_array()
        if joint_angles is not None:
            positions[self._joint_idx] = joint_angles
        if joint_velocities is not None:
            velocities[self._joint_idx] = joint_velocities
        velocities[self._root_idx[0]] = forward_speed_m_s
        m.set_dof_positions(positions)
        m.set_dof_velocities(velocities)
        m.init_muscle_activations(np.full(len(self._muscles), 0.01))
        m.init_state_from_dofs()
        m.adjust_state_for_load(INITIAL_LOAD_BW)  # feet on the ground
        self._root_force[:] = 0.0
        self._apply_root_force()

    def step(self, excitations: np.ndarray, exo_torque_nm: np.ndarray, substeps: int = 1) -> None:
        self._inputs[self._muscle_act_idx] = np.clip(excitations, 0.0, 1.0)
        self._inputs[self._exo_idx] = exo_torque_nm
        self.model.set_actuator_inputs(self._inputs)
        self._apply_root_force()
        # advance_simulation_to is absolute: always from the model's own clock (set_state resets it)
        self.model.advance_simulation_to(self.model.time() + substeps * self.physics_dt_s)

    def root_coordinates(self) -> np.ndarray:
        return np.r_[
            [self._root_dof_objects[k].pos() for k in range(3)], [self._root_dof_objects[k].vel() for k in range(3)]
        ]

    def set_root_force(self, force: np.ndarray) -> None:
        self._root_force[:] = force
        self._apply_root_force()

    def _apply_root_force(self) -> None:
        pelvis = self._bodies["pelvis"]
        fx, fz, tilt = self._root_force
        pelvis.set_external_force(self.sp.Vec3(fx, fz, 0.0))  # SCONE: x forward, y up
        axis = _vec(self._root_dof_objects[2].rotation_axis())
        pelvis.set_external_moment(self.sp.Vec3(*(tilt * axis)))

    # --- readings -------------------------------------------------------------------------------------
    def body_state(self) -> BodyState:
        m = self.model
        q, qd = m.dof_position_array(), m.dof_velocity_array()
        pelvis = self._bodies["pelvis"]
        feet = [self._bodies[f] for f in FEET]
        pelvis_pos = _vec(pelvis.com_pos())
        com, com_vel = _vec(m.com_pos()), _vec(m.com_vel())
        contact = [self._bodies[f].contact_force().y for f in FEET]
        moments = [
            d.muscle_moment() + d.actuator_torque() if hasattr(d, "muscle_moment") else 0.0 for d in self._leg_dofs
        ]
        return BodyState(
            time_s=float(m.time()),
            joint_angles=q[self._joint_idx].astype(float),
            joint_velocities=qd[self._joint_idx].astype(float),
            root_position=q[self._root_idx[:2]].astype(float),
            root_velocity=qd[self._root_idx[:2]].astype(float),
            com_position=com[[0, 1]],
            com_velocity=com_vel[[0, 1]],
            foot_positions=np.array([(_vec(f.com_pos()) - pelvis_pos)[[0, 1]] for f in feet]),
            foot_velocities=np.array([_vec(f.com_vel())[[0, 1]] for f in feet]),
            contact_forces=np.array([contact[0], 0.0, contact[1], 0.0]),  # per foot; no separate toe body
            joint_moments_nm=np.array(moments, dtype=float),
        )

    def muscle_state(self) -> MuscleEnergyState:
        m = self.model
        length = m.muscle_fiber_length_array().astype(float)
        velocity_norm = m.muscle_fiber_velocity_array().astype(float)  # normalised by optimal fibre length
        f_max, l_opt, _ = self.muscle_parameters()
        return MuscleEnergyState(
            excitation=m.muscle_excitation_array().astype(float),
            activation=m.muscle_activation_array().astype(float),
            fiber_length_norm=length,
            fiber_velocity_lopt=velocity_norm,
            fiber_velocity_m_s=velocity_norm * l_opt,
            active_force_n=m.muscle_force_array().astype(float) * f_max,  # includes passive force
            force_length_multiplier=force_length(length, *(np.full_like(length, v) for v in ACTIVE_LENGTH_RANGE)),
        )

    def imu(self) -> np.ndarray:
        gravity = _vec(self.model.gravity())
        out = np.empty((len(self.imu_names), 6))
        for k, name in enumerate(self.imu_names):
            body = self._bodies[IMU_BODIES[self._mounts[name].segment]]
            q = body.orientation()
            gyro = _rotate_into(q, _vec(body.ang_vel()))
            accel = _rotate_into(q, _vec(body.com_acc()) - gravity)
            rotation = mounting_matrix(self._mounts[name].mounting_rpy_deg)
            out[k, :3], out[k, 3:] = rotation.T @ gyro, rotation.T @ accel
        return out

    def foot_positions_for(self, joint_angles: np.ndarray) -> np.ndarray:
        """Planar chain from the model's joint offsets (segment frames, no knee translation)."""
        m = self.model
        joints = _by_name(m.joints())
        out = np.empty((2, 2))
        tilt = joint_angles[0]
        for side, (hip, knee, ankle) in enumerate(((1, 2, 3), (4, 5, 6))):
            suffix = "_r" if side == 0 else "_l"
            angle = tilt
            point = _vec(joints["hip" + suffix].pos_in_parent())[:2]
            for joint_name, index in (("knee", hip), ("ankle", knee), ("subtalar", ankle)):
                angle += joint_angles[index]
                if joint_name + suffix not in joints:
                    break
                offset = _vec(joints[joint_name + suffix].pos_in_parent())[:2]
                c, s = math.cos(angle), math.sin(angle)
                point = point + np.array([c * offset[0] - s * offset[1], s * offset[0] + c * offset[1]])
            out[side] = point
        return out

    def muscle_torque_map(self, muscles: MuscleEnergyState) -> np.ndarray:
        """Moment arm (``Muscle.dof_moment_arm``) × maximum force × the force-length multiplier."""
        f_max, _, _ = self.muscle_parameters()
        force = f_max * muscles.force_length_multiplier
        arms = np.array([[mu.dof_moment_arm(dof) for mu in self._muscles] for dof in self._leg_dofs], dtype=float)
        return arms * force

    def muscle_parameters(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        f_max = np.array([mu.max_isometric_force() for mu in self._muscles], dtype=float)
        l_opt = np.array([mu.optimal_fiber_length() for mu in self._muscles], dtype=float)
        return f_max, l_opt, np.full(len(self._muscles), MAX_SHORTENING_VELOCITY_LOPT_PER_S)
