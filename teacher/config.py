"""Simulation config (``kind: sim``): rates, conditions, reward terms, metabolics, impairment."""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

import numpy as np

from firmware_bridge.config import register_kind
from firmware_bridge.config.schema import spec


@dataclass(frozen=True)
class RewardTerm:
    """``weight · exp(-gain · error²)`` for tracking terms; ``-weight · value`` for penalties (gain unused)."""

    weight: float = spec(ge=0.0)
    gain: float = spec(0.0, ge=0.0)


@dataclass(frozen=True)
class RewardConfig:
    """The seed paper's Table II terms."""

    joint_position: RewardTerm = spec()
    joint_velocity: RewardTerm = spec()
    root: RewardTerm = spec()
    end_effector: RewardTerm = spec()
    torque: RewardTerm = spec()
    effort: RewardTerm = spec(doc="metabolic probe cost, W/kg")
    smoothness: RewardTerm = spec(doc="squared change of excitations between control steps")
    exo_energy: RewardTerm = spec(doc="exo mechanical power magnitude, W/kg")
    alive: float = spec(0.0, ge=0.0)


@dataclass(frozen=True)
class RootSupportConfig:
    """A helping hand for early training: a spring-damper pulling the pelvis along the reference path.

    ``fraction`` scales it (1 = full support, 0 = off); the curriculum anneals it to zero before the
    walker is judged, and evaluation always runs without it.
    """

    fraction: float = spec(0.0, ge=0.0, le=1.0)
    forward_stiffness_n_per_m: float = spec(1000.0, ge=0.0)
    forward_damping_n_s_per_m: float = spec(200.0, ge=0.0)
    vertical_stiffness_n_per_m: float = spec(3000.0, ge=0.0)
    vertical_damping_n_s_per_m: float = spec(300.0, ge=0.0)
    tilt_stiffness_nm_per_rad: float = spec(300.0, ge=0.0)
    tilt_damping_nm_s_per_rad: float = spec(30.0, ge=0.0)


@dataclass(frozen=True)
class JointGains:
    """One gain per joint kind, the same on both legs."""

    hip: float = spec(ge=0.0)
    knee: float = spec(ge=0.0)
    ankle: float = spec(ge=0.0)

    @functools.cached_property
    def _per_joint(self) -> np.ndarray:
        gains = np.array([self.hip, self.knee, self.ankle] * 2)
        gains.flags.writeable = False  # shared by every call
        return gains

    def per_joint(self) -> np.ndarray:
        """The gains in the order of the six leg joints (right hip, knee, ankle, then left); computed once,
        the prior reads them every control step (read-only)."""
        return self._per_joint


@dataclass(frozen=True)
class BalanceConfig:
    """SIMBICON-style balance (Yin et al. 2007) inside the tracking prior.

    A joint-space tracker cannot balance: it keeps the hips at their reference angles relative to a
    pelvis that is free to pitch, and a stance hip driven by the clock pitches the pelvis whenever the
    foot lands early. Here the stance hip instead holds the pelvis upright (PD on pelvis tilt, minus
    what the swing hip applies), the swing hip tracks its reference in the world frame, and the swing
    target moves with the centre of mass (foot placement). Stance is weighted by measured foot load.
    """

    enabled: bool = spec(False)
    trunk_kp_nm_per_rad: float = spec(0.0, ge=0.0)
    trunk_kd_nm_s_per_rad: float = spec(0.0, ge=0.0)
    swing_world_frame: float = spec(0.0, ge=0.0, le=1.0, doc="share of the pelvis tilt the swing hip target undoes")
    placement_position_rad_per_m: float = spec(0.0, doc="swing hip target per m of CoM ahead of the stance foot")
    placement_velocity_rad_s_per_m: float = spec(0.0, doc="swing hip target per m/s of CoM speed above target")
    stance_load_min: float = spec(0.05, gt=0.0, doc="total foot load (× body weight) below which no leg is in stance")


@dataclass(frozen=True)
class SlopeSetting:
    """How the tracking prior walks one slope: offsets of its reference and stance torques that the level gait
    lacks (on inclines the trunk leans forward, the legs flex more, stance pushes up; downhill it brakes).

    Found by CMA-ES per slope (:mod:`teacher.slope_search`); between settings the prior interpolates linearly.
    Angles in the prior's joint signs except knee flexion (+ = more flexed); torques are per kg of the body.
    """

    slope_deg: float = spec()
    trunk_lean_rad: float = spec(0.0, doc="forward lean of the pelvis from the gravity vertical that balance holds")
    hip_flexion_rad: float = spec(0.0, doc="added to both hips' reference angles")
    knee_flexion_rad: float = spec(0.0, doc="added to both knees' reference flexion")
    ankle_dorsiflexion_rad: float = spec(0.0, doc="added to both ankles' reference angles")
    stance_knee_extension_nm_per_kg: float = spec(0.0, doc="knee extension torque, weighted by each leg's stance load")
    stance_ankle_plantarflexion_nm_per_kg: float = spec(0.0, doc="ankle push-off (+) or braking (−), stance-weighted")
    propulsion_nm_per_kg_per_m_s: float = spec(
        0.0, doc="stance ankle plantarflexion per m/s the centre of mass is slower than the target speed"
    )
    early_stance_knee_extension_nm_per_kg: float = spec(
        0.0, doc="knee extension while the stance foot is ahead of the centre of mass (lifting the body uphill)"
    )
    late_stance_push_off_nm_per_kg: float = spec(
        0.0, doc="ankle plantarflexion while the stance foot is behind the centre of mass"
    )

    def as_dict(self) -> dict[str, float]:
        return {k: round(float(v), 5) for k, v in dataclasses.asdict(self).items()}


SLOPE_TERMS = tuple(f.name for f in dataclasses.fields(SlopeSetting) if f.name != "slope_deg")


@functools.lru_cache(maxsize=64)
def slope_terms(settings: tuple[SlopeSetting, ...], slope_deg: float) -> np.ndarray:
    """The :data:`SLOPE_TERMS` at ``slope_deg``: linear between settings, zero on level ground unless a setting
    says otherwise, held beyond the outermost settings. Cached: the prior asks every control step (read-only)."""
    knots = {0.0: np.zeros(len(SLOPE_TERMS))}
    knots.update({s.slope_deg: np.array([getattr(s, n) for n in SLOPE_TERMS]) for s in settings})
    slopes = np.array(sorted(knots))
    table = np.stack([knots[k] for k in slopes])
    terms = np.array([np.interp(slope_deg, slopes, table[:, j]) for j in range(len(SLOPE_TERMS))])
    terms.flags.writeable = False
    return terms


@dataclass(frozen=True)
class TrackingPriorConfig:
    """A muscle-space tracking controller under the policy: it makes exploration start from stepping.

    Each control step, a PD law on the reference joint angles (looked ``lookahead_s`` ahead), with
    ``balance`` where enabled, asks for joint torques; bounded least squares over the muscles' torque per
    unit activation, with ``regularisation`` on the excitations, turns them into excitations. The policy
    then adds a residual of at most ``residual_scale`` per muscle.
    """

    enabled: bool = spec(False)
    kp_nm_per_rad: JointGains = spec(JointGains(1000.0, 1000.0, 1000.0))
    kd_nm_s_per_rad: JointGains = spec(JointGains(60.0, 60.0, 60.0))
    balance: BalanceConfig = spec(BalanceConfig())
    regularisation: float = spec(100.0, gt=0.0, doc="weight of the squared excitations against torque error (N·m)²")
    lookahead_s: float = spec(0.04, ge=0.0)
    residual_scale: float = spec(0.5, gt=0.0, le=1.0)
    feedforward: float = spec(
        0.0, ge=0.0, le=2.0, doc="share of the reference's inverse-dynamics moments added to the PD torques"
    )
    subtract_exo: bool = spec(
        False, doc="the muscles are asked for the hip torques less what the exo applies (the human lets the exo help)"
    )
    slopes: list[SlopeSetting] = spec(
        [], doc="how the prior walks slopes, one setting per optimised slope (none: the level gait on every slope)"
    )


@dataclass(frozen=True)
class SynergyConfig:
    """A muscle-synergy action space, the second seed paper's action prior (``hipexo teacher synergies`` extracts one).

    With ``enabled``, the policy outputs one activation per synergy per leg instead of one per muscle;
    each muscle gets ``weights[group] · activations`` of its own leg. The same weights serve both legs
    (mirrored). ``weights`` maps every muscle group (name without side suffix) to its non-negative
    weight in each synergy.
    """

    enabled: bool = spec(False)
    weights: dict[str, list[float]] = spec({})

    def count(self) -> int:
        return len(next(iter(self.weights.values()))) if self.weights else 0

    def validate(self) -> list[str]:
        problems = []
        if self.enabled and not self.weights:
            problems.append("weights: empty, but synergies are enabled")
        lengths = {len(w) for w in self.weights.values()}
        if len(lengths) > 1:
            problems.append(f"weights: every group needs the same number of synergies (got {sorted(lengths)})")
        for group, weights in self.weights.items():
            if any(w < 0.0 for w in weights):
                problems.append(f"weights.{group}: weights must be non-negative (got {weights})")
        return problems


@dataclass(frozen=True)
class HipProfile:
    """Per side, hip torque over the gait cycle (right heel strike = 0): a flexion bump minus an extension bump,
    each a raised cosine (``amplitude · ½(1 + cos(π d / width))`` within ``width`` of its centre, circular in
    phase); the left side follows half a cycle later. N·m per kg of the subject, flexion +, as the device's
    normalised command is. CMA-ES tunes it (:mod:`teacher.profile_search`); an env can drive its exo with it
    (``SimConfig.exo_driver``)."""

    extension_nm_per_kg: float = spec(0.0, ge=0.0)
    extension_at: float = spec(0.0, doc="centre of the extension bump, share of the gait cycle (wraps)")
    extension_width: float = spec(0.1, gt=0.0, lt=0.5)
    flexion_nm_per_kg: float = spec(0.0, ge=0.0)
    flexion_at: float = spec(0.5)
    flexion_width: float = spec(0.1, gt=0.0, lt=0.5)

    def torque_nm_per_kg(self, phase: np.ndarray | float) -> np.ndarray:
        """Hip torque at each gait phase (flexion +)."""
        phase = np.asarray(phase, dtype=np.float64)
        return self.flexion_nm_per_kg * _bump(phase, self.flexion_at, self.flexion_width) - (
            self.extension_nm_per_kg * _bump(phase, self.extension_at, self.extension_width)
        )

    def commands(self, phase: float, full_scale_nm_per_kg: float) -> np.ndarray:
        """Normalised device commands (right, left) at the right leg's gait phase."""
        torque = self.torque_nm_per_kg(phase + np.array([0.0, 0.5]))  # the left leg half a cycle later
        return np.clip(torque / full_scale_nm_per_kg, -1.0, 1.0)

    def as_dict(self) -> dict[str, float]:
        return {k: round(float(v), 5) for k, v in dataclasses.asdict(self).items()}


def _bump(phase: np.ndarray, centre: float, width: float) -> np.ndarray:
    distance = np.abs((phase - centre + 0.5) % 1.0 - 0.5)
    return np.where(distance < width, 0.5 * (1.0 + np.cos(np.pi * distance / width)), 0.0)


@dataclass(frozen=True)
class SimConfig:
    reward: RewardConfig
    fast_twitch_fraction: dict[str, float]
    """Per muscle group (name without side suffix)."""
    physics_dt_s: float = spec(0.002, gt=0.0, le=0.01)
    control_rate_hz: float = spec(50.0, gt=0.0)
    device_rate_hz: float = spec(100.0, gt=0.0, doc="rate of the shaping chain and the IMUs, as on the device")
    episode_s: float = spec(10.0, gt=0.0)
    speed_range_m_s: list[float] = spec([0.8, 1.5], length=2)
    slope_range_deg: list[float] = spec([0.0, 0.0], length=2)
    start_phases: list[float] = spec(
        [0.0, 0.5], doc="gait phases an episode may start from (one at random); 0 and 0.5 are the heel strikes"
    )
    start_phase_jitter: float = spec(
        0.02,
        ge=0.0,
        lt=0.5,
        doc="± share of a stride added to the start phase at random, so seeds give different episodes",
    )
    start_velocity_noise_rad_s: float = spec(
        0.1, ge=0.0, doc="SD of Gaussian noise on the starting joint velocities (rad/s), drawn from the seed"
    )
    exo_enabled: bool = spec(False)
    exo_driver: str = spec(
        "policy",
        choices=("policy", "profile"),
        doc="what commands the exo: the policy's exo outputs, or exo_profile on the gait clock (the human adapts to "
        "a fixed exo; the policy's exo outputs are then ignored)",
    )
    exo_profile: HipProfile = spec(HipProfile())
    fall_height_drop_m: float = spec(
        0.25, gt=0.0, doc="a fall, which ends the episode: the pelvis this far below its starting height"
    )
    reference_lookahead_s: list[float] = spec([0.04, 0.08, 0.16])
    stride_length_at_1_25_m: float = spec(1.40, gt=0.0)
    max_excitation: dict[str, float] = spec({})
    """Impairment: per muscle (full name, e.g. ``soleus_r``) upper bound on excitation; default 1."""
    root_support: RootSupportConfig = spec(RootSupportConfig())
    tracking_prior: TrackingPriorConfig = spec(TrackingPriorConfig())
    synergies: SynergyConfig = spec(SynergyConfig())
    aerobic_factor: float = spec(1.5, gt=0.0)
    basal_w_per_kg: float = spec(1.2, ge=0.0)

    def validate(self) -> list[str]:
        problems = []
        steps = self.control_rate_hz * self.physics_dt_s
        if abs(round(1.0 / steps) - 1.0 / steps) > 1e-9:
            problems.append("control_rate_hz: physics steps per control step must be a whole number")
        if abs(round(self.device_rate_hz / self.control_rate_hz) - self.device_rate_hz / self.control_rate_hz) > 1e-9:
            problems.append("device_rate_hz: must be a whole multiple of control_rate_hz")
        if (
            abs(round(1.0 / (self.device_rate_hz * self.physics_dt_s)) * self.device_rate_hz * self.physics_dt_s - 1.0)
            > 1e-9
        ):
            problems.append("device_rate_hz: physics steps per device period must be a whole number")
        for name, value in {**self.fast_twitch_fraction, **self.max_excitation}.items():
            if not 0.0 <= value <= 1.0:
                problems.append(f"{name}: must be within [0, 1] (got {value})")
        if not self.start_phases or any(not 0.0 <= p < 1.0 for p in self.start_phases):
            problems.append(f"start_phases: needs at least one phase, each in [0, 1) (got {self.start_phases})")
        if self.speed_range_m_s[0] > self.speed_range_m_s[1] or self.slope_range_deg[0] > self.slope_range_deg[1]:
            problems.append("speed_range_m_s / slope_range_deg: lower bound above upper bound")
        return problems

    @property
    def substeps_per_device_period(self) -> int:
        return round(1.0 / (self.device_rate_hz * self.physics_dt_s))

    @property
    def device_periods_per_control_step(self) -> int:
        return round(self.device_rate_hz / self.control_rate_hz)


register_kind("sim", SimConfig)
