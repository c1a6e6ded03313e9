"""A contract double of ``sconepy`` (the real one installs only with SCONE): the documented API and quirks.

It enforces what shared/research/sconepy-api.md records about the real module, raising
:class:`SconepyContractError` where the real one would silently misbehave:

- returned arrays are float32 until ``set_array_dtype_float64()``;
- ``advance_simulation_to(t)`` takes an absolute time (a ``t`` before ``time()`` is a misuse);
- ``set_state`` resets time to 0; ``set_dof_positions``/``set_dof_velocities`` and
  ``init_muscle_activations`` take effect only at ``init_state_from_dofs()`` (advancing first is a misuse);
- input arrays must match ``len(actuators())`` / ``len(dofs())`` / ``len(muscles())`` exactly
  ("Invalid array length");
- ``load_model`` takes only ``.scone`` files holding a ``Model*`` block; gravity is read-only.

The physics is a toy (joint motors and muscles push DOFs through a damped integrator, activation follows
excitation); it exists to check the adapter's bookkeeping, not biomechanics.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

__version__ = "1.0.0"
DOFS = (
    "pelvis_tilt", "pelvis_tx", "pelvis_ty",
    "hip_flexion_r", "knee_angle_r", "ankle_angle_r", "hip_flexion_l", "knee_angle_l", "ankle_angle_l",
)  # fmt: skip
MUSCLES = tuple(
    f"{m}_{s}"
    for s in ("r", "l")
    for m in ("hamstrings", "bifemsh", "glut_max", "iliopsoas", "rect_fem", "vasti", "gastroc", "soleus", "tib_ant")
)
MOTORS = ("hip_motor_r", "hip_motor_l")
_state = {"f32": True}


class SconepyContractError(AssertionError):
    """A call the real sconepy would not honour as the caller expects."""


def set_array_dtype_float32() -> None:
    _state["f32"] = True


def set_array_dtype_float64() -> None:
    _state["f32"] = False


def is_array_dtype_float32() -> bool:
    return _state["f32"]


def version() -> str:
    return "2.4.3-contract-double"


def _array(values) -> np.ndarray:
    return np.array(values, dtype=np.float32 if _state["f32"] else np.float64)


def _check_length(name: str, array, expected: int) -> None:
    if not isinstance(array, np.ndarray) or array.ndim != 1 or len(array) != expected:
        raise SconepyContractError(f"{name}: Invalid array length (expected a 1-D array of {expected})")


class Vec3:
    def __init__(self, x: float = 0.0, y: float = 0.0, z: float = 0.0):
        self.x, self.y, self.z = float(x), float(y), float(z)

    def array(self) -> np.ndarray:
        return _array([self.x, self.y, self.z])


class Quat:
    def __init__(self, w: float, x: float, y: float, z: float):
        self.w, self.x, self.y, self.z = w, x, y, z


class _Named:
    def __init__(self, name: str):
        self._name = name

    def name(self) -> str:
        return self._name


class Dof(_Named):
    def __init__(self, model: Model, index: int):
        super().__init__(DOFS[index])
        self._model, self._i = model, index

    def pos(self) -> float:
        return float(self._model._q[self._i])

    def vel(self) -> float:
        return float(self._model._qd[self._i])

    def is_rotational(self) -> bool:
        return self._name not in ("pelvis_tx", "pelvis_ty")

    def rotation_axis(self) -> Vec3:
        return Vec3(0.0, 0.0, 1.0)

    def muscle_moment(self) -> float:
        return 0.0

    def actuator_torque(self) -> float:
        motor = {"hip_flexion_r": 0, "hip_flexion_l": 1}.get(self._name)
        return 0.0 if motor is None else float(self._model._inputs[len(MUSCLES) + motor])


class Body(_Named):
    def __init__(self, model: Model, name: str):
        super().__init__(name)
        self._model = model
        self.external_force = Vec3()
        self.external_moment = Vec3()

    def _angle(self) -> float:
        q = self._model._q
        side = 3 if self._name.endswith("_r") else 6
        return float(q[0] + (q[side] if self._name.startswith("femur") else 0.0))

    def _omega(self) -> float:
        qd = self._model._qd
        side = 3 if self._name.endswith("_r") else 6
        return float(qd[0] + (qd[side] if self._name.startswith("femur") else 0.0))

    def com_pos(self) -> Vec3:
        q = self._model._q
        drop = {"pelvis": 0.0, "femur_r": 0.2, "femur_l": 0.2, "calcn_r": 0.9, "calcn_l": 0.9}.get(self._name, 0.0)
        return Vec3(q[1], q[2] - drop, 0.0)

    def com_vel(self) -> Vec3:
        return Vec3(self._model._qd[1], self._model._qd[2], 0.0)

    def com_acc(self) -> Vec3:
        return Vec3(0.0, 0.0, 0.0)

    def orientation(self) -> Quat:
        a = self._angle()
        return Quat(math.cos(a / 2), 0.0, 0.0, math.sin(a / 2))

    def ang_vel(self) -> Vec3:
        return Vec3(0.0, 0.0, self._omega())

    def contact_force(self) -> Vec3:
        return Vec3(0.0, 400.0 if self._name.startswith("calcn") else 0.0, 0.0)

    def set_external_force(self, force: Vec3) -> None:
        if not isinstance(force, Vec3):
            raise SconepyContractError("set_external_force takes a sconepy.Vec3")
        self.external_force = force

    def set_external_moment(self, moment: Vec3) -> None:
        if not isinstance(moment, Vec3):
            raise SconepyContractError("set_external_moment takes a sconepy.Vec3")
        self.external_moment = moment


class Joint(_Named):
    OFFSETS = {"hip": (-0.07, -0.09), "knee": (0.0, -0.40), "ankle": (0.0, -0.43)}

    def pos_in_parent(self) -> Vec3:
        return Vec3(*self.OFFSETS[self._name.rsplit("_", 1)[0]], 0.0)


class Actuator(_Named):
    pass


class Muscle(Actuator):
    # Toy moment arms (m) by muscle group and joint kind; sign: positive flexes (dorsiflexes).
    ARMS = {
        "hamstrings": {"hip": -0.06, "knee": -0.03}, "bifemsh": {"knee": -0.03}, "glut_max": {"hip": -0.05},
        "iliopsoas": {"hip": 0.04}, "rect_fem": {"hip": 0.04, "knee": 0.04}, "vasti": {"knee": 0.04},
        "gastroc": {"knee": -0.02, "ankle": -0.05}, "soleus": {"ankle": -0.05}, "tib_ant": {"ankle": 0.04},
    }  # fmt: skip

    def dof_moment_arm(self, dof: Dof) -> float:
        if not isinstance(dof, Dof):
            raise SconepyContractError(f"dof_moment_arm takes a Dof object, not {type(dof).__name__}")
        group, _, side = self._name.rpartition("_")
        joint, dof_side = dof.name().split("_")[0], dof.name().rsplit("_", 1)[-1]
        if dof_side != side:
            return 0.0
        return self.ARMS[group].get(joint, 0.0)

    def max_isometric_force(self) -> float:
        return 1000.0

    def optimal_fiber_length(self) -> float:
        return 0.1


class Model:
    def __init__(self, path: Path):
        self.path = path
        self._dofs = [Dof(self, i) for i in range(len(DOFS))]
        self._bodies = [
            Body(self, n) for n in ("pelvis", "femur_r", "femur_l", "tibia_r", "tibia_l", "calcn_r", "calcn_l")
        ]
        self._joints = [Joint(f"{j}_{s}") for s in ("r", "l") for j in ("hip", "knee", "ankle")]
        self._muscles = [Muscle(n) for n in MUSCLES]
        self._actuators = [*self._muscles, *(Actuator(n) for n in MOTORS)]
        self.advance_calls: list[float] = []
        self.reset()

    # components
    def dofs(self):
        return list(self._dofs)

    def bodies(self):
        return list(self._bodies)

    def joints(self):
        return list(self._joints)

    def muscles(self):
        return list(self._muscles)

    def actuators(self):
        return list(self._actuators)

    def mass(self) -> float:
        return 75.0

    def gravity(self) -> Vec3:
        return Vec3(0.0, -9.81, 0.0)

    def com_pos(self) -> Vec3:
        return Vec3(self._q[1], self._q[2] - 0.1, 0.0)

    def com_vel(self) -> Vec3:
        return Vec3(self._qd[1], self._qd[2], 0.0)

    # state
    def reset(self) -> None:
        self._time = 0.0
        self._q = np.zeros(len(DOFS))
        self._q[2] = 0.95
        self._qd = np.zeros(len(DOFS))
        self._act = np.full(len(MUSCLES), 0.01)
        self._inputs = np.zeros(len(self._actuators))
        self._pending: dict[str, np.ndarray] = {}

    def time(self) -> float:
        return self._time

    def state(self) -> dict[str, float]:
        return {**{f"{n}": float(v) for n, v in zip(DOFS, self._q, strict=True)}}

    def set_state(self, values: dict[str, float]) -> None:
        for name, value in values.items():
            self._q[DOFS.index(name)] = value
        self._time = 0.0  # as the real SetState(s, 0.0)

    def set_dof_positions(self, array) -> None:
        _check_length("set_dof_positions", array, len(DOFS))
        self._pending["q"] = np.array(array, dtype=float)

    def set_dof_velocities(self, array) -> None:
        _check_length("set_dof_velocities", array, len(DOFS))
        self._pending["qd"] = np.array(array, dtype=float)

    def init_muscle_activations(self, array) -> None:
        _check_length("init_muscle_activations", array, len(MUSCLES))
        self._pending["act"] = np.array(array, dtype=float)

    def init_state_from_dofs(self) -> None:
        self._q = self._pending.pop("q", self._q)
        self._qd = self._pending.pop("qd", self._qd)
        self._act = self._pending.pop("act", self._act)

    def adjust_state_for_load(self, body_weights: float) -> None:
        if self._pending:
            raise SconepyContractError("adjust_state_for_load before init_state_from_dofs: pending DOF values ignored")
        self._q[2] = 0.95 - 0.01 * body_weights

    # actuation and time
    def set_actuator_inputs(self, array) -> None:
        _check_length("set_actuator_inputs", array, len(self._actuators))
        self._inputs = np.array(array, dtype=float)

    def advance_simulation_to(self, t: float) -> None:
        if self._pending:
            raise SconepyContractError(
                f"set_dof_*/init_muscle_activations ({sorted(self._pending)}) have no effect until init_state_from_dofs()"
            )
        if t < self._time:
            raise SconepyContractError(
                f"advance_simulation_to takes an absolute time: {t} is before the current time {self._time}"
            )
        self.advance_calls.append(t)
        dt = t - self._time
        n = len(MUSCLES)
        self._act += (np.clip(self._inputs[:n], 0.0, 1.0) - self._act) * min(1.0, dt / 0.02)
        torque = np.zeros(len(DOFS))
        torque[3], torque[6] = self._inputs[n], self._inputs[n + 1]
        self._qd += (0.02 * torque - 2.0 * self._qd) * dt
        self._q += self._qd * dt
        self._time = t

    # arrays
    def dof_position_array(self) -> np.ndarray:
        return _array(self._q)

    def dof_velocity_array(self) -> np.ndarray:
        return _array(self._qd)

    def muscle_excitation_array(self) -> np.ndarray:
        return _array(np.clip(self._inputs[: len(MUSCLES)], 0.0, 1.0))

    def muscle_activation_array(self) -> np.ndarray:
        return _array(self._act)

    def muscle_fiber_length_array(self) -> np.ndarray:
        return _array(np.ones(len(MUSCLES)))

    def muscle_fiber_velocity_array(self) -> np.ndarray:
        return _array(np.zeros(len(MUSCLES)))

    def muscle_force_array(self) -> np.ndarray:
        return _array(self._act)


def load_model(file: str, par_file: str = "") -> Model:
    path = Path(file)
    if path.suffix != ".scone":
        raise SconepyContractError(f"load_model takes a .scone scenario, not {path.suffix or path.name}")
    text = path.read_text()
    if "ModelHyfydy" not in text and "ModelOpenSim3" not in text:
        raise SconepyContractError(f"{path}: no Model block (ModelHyfydy {{ ... }} / ModelOpenSim3 {{ ... }})")
    return Model(path)
