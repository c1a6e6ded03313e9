"""Build the MuJoCo walker: assist-sim's myolegs22 + Hippo_L1, plus floor, IMUs, device masses, body mass.

assist-sim composes the musculoskeletal model with the exoskeleton once; the composed XML is cached
under ``~/.cache/hipexo/models`` (or ``$HIPEXO_CACHE``) keyed by the package versions and the
interpreter prefix (the XML points at meshes inside the installed packages). Everything this project
adds is done on an ``MjSpec`` so the cache holds assist-sim's output unchanged:

- a ground plane (the composed model has none);
- an IMU site with a gyroscope and an accelerometer on the pelvis and on each thigh (sensor frame =
  segment frame before the mounting rotation, see docs/conventions.md);
- the exoskeleton's own bodies rescaled to the device config's segment masses (inertia scaled with
  mass), and the human bodies scaled to the subject's body mass.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import mujoco
import numpy as np

from firmware_bridge.config import DeviceConfig, SubjectConfig

MSK_MODEL = "myolegs22"
DEVICE_MODEL = "Hippo_L1"
DEVICE_BODY_PREFIX = "Hippo_L1_"
IMU_SEGMENT_BODIES = {"pelvis": "pelvis", "thigh_r": "femur_r", "thigh_l": "femur_l"}
EXO_ACTUATORS = ("Exo_R", "Exo_L")
"""Hip-flexion torque actuators, side order (right, left); gear 1, ctrl in N·m / 100."""
EXO_ACTUATOR_FULL_SCALE_NM = 100.0


def cache_dir() -> Path:
    return Path(os.environ.get("HIPEXO_CACHE", Path.home() / ".cache" / "hipexo")) / "models"


def composed_xml() -> Path:
    """Path of assist-sim's composed XML, composing it on first use (no network needed)."""
    key_source = "|".join(
        [MSK_MODEL, DEVICE_MODEL, version("assist-sim"), version("myo-sim"), mujoco.__version__, sys.prefix]
    )
    path = cache_dir() / f"{MSK_MODEL}_{DEVICE_MODEL}_{hashlib.sha256(key_source.encode()).hexdigest()[:16]}.xml"
    if path.exists():
        return path
    from assist_sim import load_combined

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, staging = tempfile.mkstemp(suffix=".xml", dir=path.parent)
    os.close(fd)
    load_combined(MSK_MODEL, DEVICE_MODEL, export_xml=staging)
    os.replace(staging, path)  # atomic: parallel workers never read a half-written file
    return path


def simulation_xml() -> Path:
    """The composed model without its look-only meshes (cached next to it): what every env loads.

    Stripping needs one compile of the full model (~600 MB peak for its meshes); doing it once here keeps
    each env process from paying that.
    """
    full = composed_xml()
    path = full.with_name(full.stem + "_sim.xml")
    if path.exists():
        return path
    spec = mujoco.MjSpec.from_file(str(full))
    _drop_visual_meshes(spec, spec.compile())
    fd, staging = tempfile.mkstemp(suffix=".xml", dir=path.parent)
    with os.fdopen(fd, "w") as f:
        f.write(spec.to_xml())
    os.replace(staging, path)
    return path


@dataclass(frozen=True)
class ImuSite:
    name: str
    """The IMU name used in feature channels (pelvis, thigh_r, thigh_l)."""
    site: str
    gyro_sensor: str
    accel_sensor: str


def _rpy_quat(rpy_deg: list[float] | tuple[float, ...]) -> np.ndarray:
    quat = np.zeros(4)
    mujoco.mju_euler2Quat(quat, np.deg2rad(np.asarray(rpy_deg, dtype=float)), "xyz")
    return quat


def _imu_position(model: mujoco.MjModel, segment_body: str) -> np.ndarray:
    """Mid-thigh on the femur (halfway to the knee), or the back of the pelvis at belt height."""
    body = model.body(segment_body)
    if segment_body == "pelvis":
        return np.array([-0.12, 0.05, 0.0])
    child = next(b for b in range(model.nbody) if model.body_parentid[b] == body.id and model.body_jntnum[b] > 0)
    return 0.5 * model.body_pos[child]


def build_model(
    device: DeviceConfig, subject: SubjectConfig, physics_dt_s: float, visual_meshes: bool = False
) -> tuple[mujoco.MjModel, list[ImuSite]]:
    """Compile the walker for this device and subject (without the visual-only meshes unless asked)."""
    spec = mujoco.MjSpec.from_file(str(composed_xml() if visual_meshes else simulation_xml()))
    spec.option.timestep = physics_dt_s
    reference = spec.compile()

    floor = spec.worldbody.add_geom()
    floor.name = "floor"
    floor.type = mujoco.mjtGeom.mjGEOM_PLANE
    floor.size = [0.0, 0.0, 1.0]
    floor.friction = [1.0, 0.005, 0.0001]
    floor.rgba = [0.85, 0.85, 0.8, 1.0]

    imus = []
    for mount in device.imus:
        body_name = IMU_SEGMENT_BODIES[mount.segment]
        site = spec.body(body_name).add_site()
        site.name = f"imu_{mount.name}"
        site.pos = _imu_position(reference, body_name)
        site.quat = _rpy_quat(mount.mounting_rpy_deg)
        for kind, sensor_type in (
            ("gyro", mujoco.mjtSensor.mjSENS_GYRO),
            ("accel", mujoco.mjtSensor.mjSENS_ACCELEROMETER),
        ):
            sensor = spec.add_sensor()
            sensor.name = f"{site.name}_{kind}"
            sensor.type = sensor_type
            sensor.objtype = mujoco.mjtObj.mjOBJ_SITE
            sensor.objname = site.name
        imus.append(ImuSite(mount.name, site.name, f"{site.name}_gyro", f"{site.name}_accel"))

    _scale_masses(spec, reference, device, subject)
    _stiffen_couplings(spec, physics_dt_s)
    return spec.compile(), imus


def _stiffen_couplings(spec: mujoco.MjSpec, physics_dt_s: float) -> None:
    """Make the joint couplings (knee translation, moving via-points) as stiff as the time step allows.

    The composed model leaves them at MuJoCo's default 20 ms time constant. The via-points sit on ~1 g
    bodies, so a loaded muscle drags them off their polynomial: measured at 1.25 m/s, the left vasti's
    via-point moved 4 cm (ten times its joint range) under 6.7 kN, its length froze and the knee could
    no longer be extended (0.05 of the torque the muscle should give). At 2 × the time step (the
    stiffest MuJoCo accepts) the same via-point stays within 6 mm at 9 kN and the knee extends.
    """
    stiff = [2.0 * physics_dt_s, 1.0]
    for equality in spec.equalities:
        if equality.type == mujoco.mjtEq.mjEQ_JOINT:
            equality.solref = stiff
            spec.joint(equality.name1).solref_limit = stiff


EXO_SHELL_PREFIX = "Hippo_L1_hippo"
"""Mesh geoms of the exo's shell; their masses and inertias stay, only the geometry goes."""


def _with_margin(inertia: np.ndarray) -> np.ndarray:
    """Principal inertia nudged (≤ 1e-6 relative) so the triangle inequality survives the XML's printed digits.

    Thin mesh-derived bodies (the lumbar shells) sit exactly on A + B = C.
    """
    values = np.array(inertia, dtype=float)
    largest = int(np.argmax(values))
    margin = 1e-6 * values[largest]
    deficit = values[largest] - (values.sum() - values[largest]) + margin
    if deficit > 0:
        others = [k for k in range(3) if k != largest]
        values[others] += deficit / 2
    return values


def _drop_visual_meshes(spec: mujoco.MjSpec, compiled: mujoco.MjModel) -> None:
    """Remove mesh geoms that never collide, and the meshes nothing uses any more.

    The composed model carries ~250k mesh vertices, 230k of them in the exo's shell (thigh frames,
    motors, hip shell). The shell is marked as colliding, but in the planar model it touches nothing
    while walking (checked over random supported episodes: no contacts); only the feet, legs and torso
    need collision geometry. Some bodies
    take their inertia from those meshes, so every body first gets its compiled inertia written in
    explicitly: the physics is unchanged (a test steps both models side by side).
    """
    for body in spec.bodies[1:]:
        b = compiled.body(body.name)
        body.explicitinertial = True
        body.mass, body.ipos, body.iquat, body.inertia = b.mass[0], b.ipos, b.iquat, _with_margin(b.inertia)
    for geom in list(spec.geoms):
        shell = geom.name.startswith(EXO_SHELL_PREFIX)
        if geom.type == mujoco.mjtGeom.mjGEOM_MESH and (shell or (geom.contype == 0 and geom.conaffinity == 0)):
            spec.delete(geom)
    used = {g.meshname for g in spec.geoms if g.type == mujoco.mjtGeom.mjGEOM_MESH}
    for mesh in list(spec.meshes):
        if mesh.name not in used:
            spec.delete(mesh)


def _device_bodies_by_segment(model: mujoco.MjModel) -> dict[str, list[int]]:
    """Exoskeleton bodies grouped by the human segment they ride on."""
    groups: dict[str, list[int]] = {segment: [] for segment in IMU_SEGMENT_BODIES}
    segment_of_body = {model.body(name).id: segment for segment, name in IMU_SEGMENT_BODIES.items()}
    for b in range(model.nbody):
        if not model.body(b).name.startswith(DEVICE_BODY_PREFIX):
            continue
        ancestor = b
        while ancestor not in segment_of_body:
            ancestor = model.body_parentid[ancestor]
        groups[segment_of_body[ancestor]].append(b)
    return groups


def _scale_masses(spec: mujoco.MjSpec, model: mujoco.MjModel, device: DeviceConfig, subject: SubjectConfig) -> None:
    device_bodies = _device_bodies_by_segment(model)
    device_ids = {b for bodies in device_bodies.values() for b in bodies}
    for segment, bodies in device_bodies.items():
        current = float(sum(model.body_mass[b] for b in bodies))
        target = device.segment_masses_kg.get(segment, 0.0)
        for b in bodies:
            _scale_body(spec.body(model.body(b).name), model, b, target / current if current > 0 else 0.0)
    human_mass = float(sum(model.body_mass[b] for b in range(model.nbody) if b not in device_ids))
    human_scale = subject.body_mass_kg / human_mass
    for b in range(1, model.nbody):
        if b not in device_ids and model.body_mass[b] > 0:
            _scale_body(spec.body(model.body(b).name), model, b, human_scale)
    # Geometric similarity: muscle strength scales with mass^(2/3).
    strength = human_scale ** (2.0 / 3.0)
    for actuator in spec.actuators:
        if actuator.name not in EXO_ACTUATORS:
            actuator.gainprm[2] *= strength
            actuator.biasprm[2] *= strength


def _scale_body(body: mujoco.MjsBody, model: mujoco.MjModel, body_id: int, factor: float) -> None:
    body.mass = max(float(model.body_mass[body_id]) * factor, 1e-6)
    body.inertia = np.maximum(model.body_inertia[body_id] * factor, 1e-9)
    body.ipos = model.body_ipos[body_id]
    body.iquat = model.body_iquat[body_id]
    body.explicitinertial = True
