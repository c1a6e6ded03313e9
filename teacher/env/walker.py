"""Gymnasium env: a privileged walker with a hip exo, imitating reference gait across speeds and slopes.

Per control step (50 Hz by default) the action holds 22 muscle excitations (0..1; with the tracking
prior, residuals -1..1 over it; with synergies, one activation per synergy per leg instead) and two
normalised hip-exo commands (-1..1, right/left). Between control steps, at the device rate (100 Hz), the exo
command goes through **firmware_bridge's shaping chain**, the same code the device runs, and the
shaped torque acts for the physics substeps of that period. The IMUs are sampled at the same rate
and returned in ``info["imu"]`` for distillation.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from firmware_bridge.config import DeviceConfig, SubjectConfig, load_config
from firmware_bridge.config.paths import default_config
from firmware_bridge.shaping import ShaperState, ShapingParams, shape_step
from teacher.config import SLOPE_TERMS, SimConfig, slope_terms
from teacher.env import rewards, tracking_prior
from teacher.sim.backend import SimBackend
from teacher.sim.metabolics import MetabolicParams, metabolic_rate
from teacher.sim.reference import ReferenceGait
from teacher.synergies import split_side, synergy_matrix

ENV_ID = "hipexo/HipExoWalker-v0"


def action_bounds(n_muscle_channels: int, residual: bool) -> tuple[np.ndarray, np.ndarray]:
    """Per muscle (or synergy) channel a drive in [0, 1] (or, over the tracking prior, a residual in
    [-1, 1]), then the right and left exo commands in [-1, 1]."""
    low = np.r_[np.full(n_muscle_channels, -1.0 if residual else 0.0), -np.ones(2)].astype(np.float32)
    return low, np.ones(n_muscle_channels + 2, dtype=np.float32)


def phase_index(config: SimConfig) -> int:
    """Index (from the end) of sin(2π phase) in the observation, cos following: the gait clock, for policies
    that act on it (:mod:`teacher.assistance`). After it come the lookahead errors (6 per lookahead) and the
    shaped torques (2)."""
    return -(2 + 6 * len(config.reference_lookahead_s) + 2)


def slope_index(config: SimConfig) -> int:
    """Index (from the end) of the slope in the observation (degrees / 10), just before the gait clock."""
    return phase_index(config) - 1


class HipExoWalkerEnv(gym.Env):
    metadata = {"render_modes": []}

    def __init__(
        self,
        sim_config: SimConfig | str | Path | None = None,
        device_config: DeviceConfig | str | Path | None = None,
        subject_config: SubjectConfig | str | Path | None = None,
        backend: SimBackend | None = None,
    ):
        self.config = _load(sim_config, SimConfig, default_config("sim"))
        self.device = _load(device_config, DeviceConfig, default_config("device", "hip_exo"))
        self.subject = _load(subject_config, SubjectConfig, default_config("subject"))
        if backend is None:
            from teacher.sim.mujoco_backend import MujocoBackend

            backend = MujocoBackend(self.device, self.subject, self.config.physics_dt_s)
        self.backend = backend
        self.shaping = ShapingParams.from_config(self.device, self.subject, self.config.device_rate_hz)
        self.reference = ReferenceGait(self.config.stride_length_at_1_25_m)
        names = backend.muscle_names
        f_max, l_opt, v_max = backend.muscle_parameters()
        self.metabolic = MetabolicParams(
            fast_twitch_fraction=np.array([self.config.fast_twitch_fraction[split_side(n)[0]] for n in names]),
            muscle_mass_kg=MetabolicParams.muscle_mass(f_max, l_opt),
            vmax_fast_lopt_per_s=v_max,
            aerobic_factor=self.config.aerobic_factor,
            basal_w_per_kg=self.config.basal_w_per_kg,
            body_mass_kg=backend.body_mass_kg,
        )
        self._f_max = f_max
        self._body_weight_n = backend.body_mass_kg * 9.81
        self.max_excitation = self._excitation_limits(self.config)
        self._synergy_map = synergy_matrix(self.config.synergies, names) if self.config.synergies.enabled else None
        channels = len(names) if self._synergy_map is None else self._synergy_map.shape[1]
        low, high = action_bounds(channels, self.config.tracking_prior.enabled)
        self.action_space = gym.spaces.Box(low=low, high=high)
        self.control_dt = 1.0 / self.config.control_rate_hz
        self._lookahead_s = np.array(self.config.reference_lookahead_s)
        # One reference lookup per control step at these offsets: now (reward), the observation's lookaheads,
        # and the prior's lookahead (used by the next step's muscle excitations).
        self._reference_offsets_s = np.r_[0.0, self._lookahead_s, self.config.tracking_prior.lookahead_s]
        self._max_steps = round(self.config.episode_s * self.config.control_rate_hz)
        self._allocator = tracking_prior.MuscleAllocator(len(names), self.config.tracking_prior.regularisation)
        self.speed = self.slope = self.phase = 0.0
        self.exo_on = True
        self._reset_internal(1.0, 0.0, 0.0)
        obs = self._observation(self._body, self._muscles)
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=obs.shape, dtype=np.float32)

    # --- gymnasium API -----------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        options = options or {}
        rng = self.np_random
        speed = options.get("speed_m_s", rng.uniform(*self.config.speed_range_m_s))
        slope = options.get("slope_deg", rng.uniform(*self.config.slope_range_deg))
        phase = options.get("phase", rng.choice(self.config.start_phases))
        # drawn whatever the options say: a seed must change the episode (evaluation pairs episodes by seed)
        phase += rng.uniform(-1.0, 1.0) * self.config.start_phase_jitter
        noise = rng.normal(0.0, 1.0, 6) * self.config.start_velocity_noise_rad_s
        # an exo-enabled walker may wear it at zero torque for one episode (training keeps the unassisted gait)
        self.exo_on = bool(options.get("exo_on", True))
        self._reset_internal(float(speed), float(slope), float(phase) % 1.0, noise)
        return self._observation(self._body, self._muscles), {
            "speed_m_s": self.speed,
            "slope_deg": self.slope,
            "phase": self.phase,
            "exo_on": self.assisting,
        }

    @property
    def assisting(self) -> bool:
        """Whether this episode's exo applies its commands (enabled by config, and not worn at zero torque)."""
        return self.config.exo_enabled and self.exo_on

    def step(self, action: np.ndarray):
        excitations, command = self.begin_step(action)
        for _ in range(self.config.device_periods_per_control_step):
            shaped = shape_step(self.shaping, self.shaper, float(command[0]), float(command[1]))
            self.advance_period(excitations, np.array([shaped.right_nm, shaped.left_nm]))
        return self.end_step(excitations)

    # --- device-period stepping: the env's own step, and co-simulation with a real device (hil/) -------
    def begin_step(self, action: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(excitations held over this control step, the normalised exo command; zero with the exo off, by config
        or for this episode)."""
        action = np.clip(np.asarray(action, dtype=np.float64), self.action_space.low, self.action_space.high)
        muscle_action, exo_action = action[:-2], action[-2:]
        if self._synergy_map is not None:
            muscle_action = self._synergy_map @ muscle_action
        excitations = np.minimum(self._muscle_excitations(muscle_action), self.max_excitation)
        if not self.assisting:
            command = np.zeros(2)
        elif self.config.exo_driver == "profile":
            command = self.config.exo_profile.commands(self.phase, self.device.command_full_scale_nm_per_kg)
        else:
            command = exo_action
        self._period_imu: list[np.ndarray] = []
        self._period_torque: list[np.ndarray] = []
        return excitations, command

    def advance_period(self, excitations: np.ndarray, exo_torque_nm: np.ndarray) -> np.ndarray:
        """One device period with this hip torque (N·m, right, left); returns the IMU readings after it."""
        support = self.config.root_support
        if support.fraction > 0.0:
            elapsed = self._steps * self.control_dt + len(self._period_imu) / self.config.device_rate_hz
            self.backend.set_root_force(
                rewards.root_support_force(
                    support, self.backend.root_coordinates(), self._root_target(elapsed), self.speed
                )
            )
        self.backend.step(excitations, exo_torque_nm, self.config.substeps_per_device_period)
        imu = self.backend.imu()
        self._period_imu.append(imu)
        self._period_torque.append(np.asarray(exo_torque_nm, dtype=np.float64))
        self._applied_torque_nm = self._period_torque[-1]
        return imu

    def end_step(self, excitations: np.ndarray):
        """Close the control step: reward, termination and the next observation (Gymnasium's step tuple)."""
        imu, torques = self._period_imu, self._period_torque
        self._steps += 1
        self.phase = (self.phase + self.control_dt / self.reference.stride_time_s(self.speed)) % 1.0
        body, muscles = self._body, self._muscles = self.backend.body_state(), self.backend.muscle_state()
        self._sample_reference()
        energy = metabolic_rate(self.metabolic, muscles)
        mass = self.backend.body_mass_kg
        ref_angles, ref_velocities, ref_moments = (part[0] for part in self._reference)
        ref_hip_moments = ref_moments[:, 0]
        torque = sum(torques) / len(torques)
        errors = {
            "joint_position": rewards.joint_position_error(body.joint_angles[1:], ref_angles),
            "joint_velocity": rewards.joint_position_error(body.joint_velocities[1:], ref_velocities),
            "root": rewards.root_error(body.com_velocity[0], self.speed, self._pelvis_lean_error(body)),
            "end_effector": float(
                np.sum(
                    (body.foot_positions - self.backend.foot_positions_for(np.concatenate(([0.0], ref_angles)))) ** 2
                )
            ),
            "torque": float(np.sum((body.hip_moments_nm / mass - ref_hip_moments) ** 2)),
        }
        costs = {
            "effort": energy.total_w / mass,
            "smoothness": rewards.smoothness_cost(excitations, self._previous_excitations),
            "exo_energy": rewards.exo_power_per_kg(torque, body.joint_velocities[[1, 4]], mass),
        }
        reward, terms = rewards.combine(self.config.reward, errors, costs)
        self._previous_excitations = excitations
        terminated = bool(self._start_root[1] - body.root_position[1] > self.config.fall_height_drop_m)
        truncated = self._steps >= self._max_steps
        info = {
            "imu": np.stack(imu),
            "exo_torque_nm": np.stack(torques),
            "excitations": excitations,
            "metabolic_w_per_kg": energy.total_w / mass,
            "joint_tracking": rewards.tracking(errors["joint_position"], self.config.reward.joint_position.gain),
            "forward_velocity_m_s": float(body.com_velocity[0]),
            "reward_terms": terms,
            "phase": self.phase,
            "speed_m_s": self.speed,
            "slope_deg": self.slope,
            "exo_on": self.assisting,
        }
        return self._observation(body, muscles), float(reward), terminated, truncated, info

    def set_sim_config(self, config: SimConfig) -> None:
        """Switch conditions, rewards or the exo (a curriculum stage); takes effect from the next reset.

        Rates and the reference gait must stay as they are: the policy's observation and action depend on them.
        The prior's slope settings may change (a slope curriculum refines them as it widens).
        """
        fixed = (
            "physics_dt_s",
            "control_rate_hz",
            "device_rate_hz",
            "reference_lookahead_s",
            "stride_length_at_1_25_m",
            "tracking_prior",
            "synergies",
        )
        changed = [name for name in fixed if _interface(config, name) != _interface(self.config, name)]
        if changed:
            raise ValueError(f"a running env cannot change {', '.join(changed)}; these fix the policy's interface")
        self.config = config
        self.backend.set_root_force(np.zeros(3))
        self.max_excitation = self._excitation_limits(config)
        self._max_steps = round(config.episode_s * config.control_rate_hz)

    # --- internals ---------------------------------------------------------------------------------
    def _root_target(self, elapsed_s: float) -> np.ndarray:
        """Where the root should be: (forward, vertical, tilt), moving at the target speed from the start."""
        return np.array([self._start_root[0] + self.speed * elapsed_s, self._start_root[1], 0.0])

    def _pelvis_lean_error(self, body) -> float:
        """Pelvis tilt (rad, + backward) from where the prior holds it: the gravity vertical, leaning forward by
        the slope setting's trunk lean (on level ground without settings, the model's pelvis tilt)."""
        return tracking_prior.tilt_from_vertical(body, self.slope) + float(self._slope_terms[0])

    def _muscle_excitations(self, muscle_action: np.ndarray) -> np.ndarray:
        prior = self.config.tracking_prior
        if not prior.enabled:
            return np.clip(muscle_action, 0.0, 1.0)
        angles, velocities, moments = self._reference
        torques = tracking_prior.desired_torques(
            prior,
            self._body,
            angles[-1],
            velocities[-1],
            self.speed,
            self._body_weight_n,
            self.slope,
            moments[-1].reshape(-1) * self.backend.body_mass_kg,
        )
        if prior.subtract_exo:
            torques[tracking_prior.HIPS] -= self._applied_torque_nm
        base = self._allocator.solve(self.backend.muscle_torque_map(self._muscles), torques)
        return np.clip(base + prior.residual_scale * muscle_action, 0.0, 1.0)

    def _excitation_limits(self, config: SimConfig) -> np.ndarray:
        names = self.backend.muscle_names
        unknown = set(config.max_excitation) - set(names)
        if unknown:
            raise ValueError(f"max_excitation names unknown muscles {sorted(unknown)}; muscles are {list(names)}")
        return np.array([config.max_excitation.get(n, 1.0) for n in names])

    def _reset_internal(
        self, speed: float, slope: float, phase: float, velocity_noise: np.ndarray | None = None
    ) -> None:
        self.speed, self.slope, self.phase = speed, slope, phase
        settings = tuple(self.config.tracking_prior.slopes)
        self._slope_terms = slope_terms(settings, slope) if settings else np.zeros(len(SLOPE_TERMS))
        self._slope_offsets = tracking_prior.slope_offsets(self._slope_terms)
        self.backend.set_slope(slope)
        self.backend.set_root_force(np.zeros(3))
        ref = self.reference.sample(speed, phase)
        velocities = ref.velocities_rad_s.reshape(-1) + (0.0 if velocity_noise is None else velocity_noise)
        self.backend.reset(np.r_[0.0, ref.angles_rad.reshape(-1)], np.r_[0.0, velocities], speed)
        self.shaper = ShaperState.initial(self.shaping)
        self._applied_torque_nm = np.zeros(2)
        self._previous_excitations = np.zeros(len(self.max_excitation))
        self._steps = 0
        self._allocator.reset()
        self._body, self._muscles = self.backend.body_state(), self.backend.muscle_state()
        self._sample_reference()
        self._start_root = self._body.root_position.copy()

    def _sample_reference(self) -> None:
        """The reference at :attr:`_reference_offsets_s` ahead of the current phase: angles and velocities
        (offset, 6 joints), moments (offset, side, joint)."""
        stride = self.reference.stride_time_s(self.speed)
        angles, velocities, moments = self.reference.sample_phases(
            self.speed, self.phase + self._reference_offsets_s / stride
        )
        angles = angles.reshape(len(angles), -1) + self._slope_offsets  # the slope-adjusted gait (the prior's too)
        self._reference = (angles, velocities.reshape(len(angles), -1), moments)

    def _observation(self, body, muscles) -> np.ndarray:
        future = self._reference[0][1 : 1 + len(self._lookahead_s)] - body.joint_angles[1:]
        shaped = self._applied_torque_nm / self.shaping.full_scale_nm
        obs = np.concatenate(
            [
                muscles.activation,
                muscles.fiber_length_norm,
                muscles.fiber_velocity_lopt / 10.0,
                muscles.active_force_n / self._f_max,
                body.contact_forces / self._body_weight_n,
                body.joint_angles,
                body.joint_velocities / 10.0,
                [body.root_position[1]],
                body.root_velocity,
                body.com_velocity,
                body.foot_positions.reshape(-1),
                body.foot_velocities.reshape(-1) / 5.0,
                [self.speed, self.slope / 10.0, math.sin(2 * math.pi * self.phase), math.cos(2 * math.pi * self.phase)],
                future.reshape(-1),
                shaped,
            ]
        )
        return obs.astype(np.float32)


def _interface(config: SimConfig, name: str):
    """What of ``config.name`` fixes the policy's interface (the tracking prior's slope settings do not)."""
    value = getattr(config, name)
    return dataclasses.replace(value, slopes=[]) if name == "tracking_prior" else value


def _load(value, cls, default_path):
    if isinstance(value, cls):
        return value
    return load_config(value if value is not None else default_path, cls)
