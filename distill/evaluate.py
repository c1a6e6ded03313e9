"""``hipexo distill eval``: how closely the student reproduces the teacher, where it matters.

- **Open loop**, per condition (training ones and held-out ones the student never saw): the teacher drives;
  student and teacher commands both go through the device's shaping chain (firmware_bridge.shaping) and
  are compared as torque per kg: r, RMSE, and the timing of the flexion peak over the gait cycle.
- **Closed loop**, held-out conditions: the student drives the exo (its randomised IMUs in, its command
  out) while the teacher walks; fall rate and metabolic cost against the teacher driving and the exo off.
- **Robustness**: RMSE against the sensor mounting rotation, the IMU noise level and the IMU latency (which the
  student cannot tell from its input, so part of its error at the drawn latencies is a floor under any student).
- **Real IMUs**: the student on the TUM walking recordings through the device feature code: its torque
  must stay within the device's limit and repeat at the stride frequency.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import torch

from analysis.gait import phase_profile, stride_config, strides
from distill.collect import Episode, rollout
from distill.config import DistillConfig
from distill.randomise import SensorModel
from distill.train import IMU_NAMES, StudentDriver
from firmware_bridge.config import DeviceConfig, SubjectConfig, load_config
from firmware_bridge.config.paths import SHARED_DATA_DIR, default_config
from firmware_bridge.features import FeatureSpec, sliding_windows
from firmware_bridge.shaping import ShaperState, ShapingParams, shape_step

MOUNTING_SWEEP_DEG = (0.0, 5.0, 10.0, 20.0)
NOISE_SWEEP_SCALE = (0.0, 1.0, 2.0, 4.0)
LATENCY_SWEEP_PERIODS = (0, 1, 2, 3)
RECORDINGS = ("tum-ao-imu-walking/walk_4",)
TRACKING_SEED_STRIDE = 50_000
"""Seed offset between a condition's tracking walks, clear of the closed-loop (+1000·k) and robustness (+500) seeds."""
THIGH_GYRO_Z = {side: IMU_NAMES.index(name) * 6 + 2 for side, name in enumerate(("thigh_r", "thigh_l"))}


def student_commands(model: torch.nn.Module, spec: FeatureSpec, imu: np.ndarray) -> np.ndarray:
    """(T - window + 1, 2) commands over an IMU history, as the device computes them period by period."""
    windows = sliding_windows(spec, IMU_NAMES, imu.reshape(len(imu), -1))
    with torch.no_grad():
        return model(torch.from_numpy(windows)).numpy()


@functools.cache
def _shaping(rate_hz: float) -> ShapingParams:
    device = load_config(default_config("device", "hip_exo"), DeviceConfig)
    return ShapingParams.from_config(device, load_config(default_config("subject"), SubjectConfig), rate_hz)


def shaped_torque(commands: np.ndarray, rate_hz: float) -> np.ndarray:
    """(T, 2) normalised commands → (T, 2) N·m through the device's shaping chain (soft start included)."""
    params = _shaping(rate_hz)
    state = ShaperState.initial(params)
    out = np.empty((len(commands), 2))
    for k, (right, left) in enumerate(commands):
        shaped = shape_step(params, state, float(right), float(left))
        out[k] = shaped.right_nm, shaped.left_nm
    return out


def compare(episode: Episode, student: np.ndarray, teacher: np.ndarray, rate_hz: float) -> dict:
    """Shaped torque per kg, student vs teacher, over the periods where the student has a full window."""
    start = len(episode.labels) - len(student)
    mass = episode.body_mass_kg
    s = shaped_torque(student, rate_hz) / mass
    t = shaped_torque(teacher[start:], rate_hz) / mass
    both = np.stack([s.ravel(), t.ravel()])
    r = float(np.corrcoef(both)[0, 1]) if both.std(axis=1).min() > 0 else float("nan")
    times = np.arange(len(episode.labels)) / rate_hz
    timing, profiles = [], {}
    for side in (0, 1):
        gyro = (
            episode.clean_imu.reshape(len(times), -1)[:, THIGH_GYRO_Z[side]] if episode.clean_imu is not None else None
        )
        if gyro is None:
            continue
        cycles = strides(times, gyro, stride_config())
        ps, pt = phase_profile(times[start:], s[:, side], cycles), phase_profile(times[start:], t[:, side], cycles)
        if ps.strides and pt.strides:
            gap = abs(ps.peak_positive[1] - pt.peak_positive[1])
            timing.append(min(gap, 100.0 - gap))
            if side == 0:
                profiles = {
                    "profile_student_nm_per_kg": ps.mean.tolist(),
                    "profile_teacher_nm_per_kg": pt.mean.tolist(),
                }
    return {
        "r": r,
        "rmse_nm_per_kg": float(np.sqrt(np.mean((s - t) ** 2))),
        "peak_timing_error_pct": float(np.mean(timing)) if timing else float("nan"),
        "teacher_peak_nm_per_kg": float(np.abs(t).max()),
        **profiles,
    }


def pooled(walks: list[dict]) -> dict:
    """One condition's tracking over several walks: mean r, RMSE over every walk's samples (walks are equally long
    unless the teacher fell), each walk's r and RMSE kept so their spread shows, profiles averaged."""
    out = {
        "r": float(np.nanmean([w["r"] for w in walks])),
        "rmse_nm_per_kg": float(np.sqrt(np.mean([w["rmse_nm_per_kg"] ** 2 for w in walks]))),
        "peak_timing_error_pct": float(np.nanmean([w["peak_timing_error_pct"] for w in walks])),
        "teacher_peak_nm_per_kg": max(w["teacher_peak_nm_per_kg"] for w in walks),
        "walks_r": [w["r"] for w in walks],
        "walks_rmse_nm_per_kg": [w["rmse_nm_per_kg"] for w in walks],
    }
    for key in ("profile_student_nm_per_kg", "profile_teacher_nm_per_kg"):
        profiles = [w[key] for w in walks if key in w]
        if profiles:
            out[key] = np.mean(profiles, axis=0).tolist()
    return out


def conditions(config: DistillConfig) -> list[tuple[float, float, bool]]:
    """(speed, slope, held out): every seen slope at the middle seen speed (the closed loop's retention on each
    slope the student learnt, uphill included), then every held-out speed and slope combination."""
    middle_speed = config.speeds_m_s[len(config.speeds_m_s) // 2]
    seen = [(middle_speed, slope, False) for slope in sorted(config.slopes_deg)]
    held = {(s, config.slopes_deg[len(config.slopes_deg) // 2]) for s in config.held_out_speeds_m_s}
    held |= {(config.speeds_m_s[len(config.speeds_m_s) // 2], sl) for sl in config.held_out_slopes_deg}
    held |= {(s, sl) for s in config.held_out_speeds_m_s for sl in config.held_out_slopes_deg}
    return seen + [(s, sl, True) for s, sl in sorted(held)]


def evaluate(teacher, model: torch.nn.Module, spec: FeatureSpec, config: DistillConfig, progress=None) -> dict:
    rate = spec.rate_hz
    seed = config.seed + 900_000
    rows = []
    for k, (speed, slope, held_out) in enumerate(conditions(config)):
        walks = [
            rollout(teacher, config, speed, slope, seed + k + TRACKING_SEED_STRIDE * j)
            for j in range(config.tracking_episodes)
        ]
        row = {"speed_m_s": speed, "slope_deg": slope, "held_out": held_out, "teacher_fell": sum(w.fell for w in walks)}
        row |= pooled([compare(w, student_commands(model, spec, w.imu), w.labels, rate) for w in walks])
        row["closed_loop"] = closed_loop(teacher, model, spec, config, speed, slope, seed + 1000 * (k + 1))
        rows.append(row)
        if progress is not None:
            progress(f"{speed:g} m/s {slope:+g}°")
    robustness = _robustness(teacher, model, spec, config, seed)
    return {
        "tracking_episodes": config.tracking_episodes,
        "conditions": rows,
        "robustness": robustness,
        "recordings": _recordings(model, spec),
    }


def _zero_torque(history: np.ndarray) -> np.ndarray:
    return np.zeros(2)


def closed_loop(
    teacher, model, spec: FeatureSpec, config: DistillConfig, speed: float, slope: float, seed: int
) -> dict:
    """The student driving the exo against the teacher driving it and the exo at zero torque, paired: each of
    ``closed_loop_episodes`` seeds walks all three; reductions are per seed over seeds where none fell."""
    walks = {"exo_off": [], "teacher": [], "student": []}
    for s in range(seed, seed + config.closed_loop_episodes):
        walks["exo_off"].append(rollout(teacher, config, speed, slope, s, _zero_torque))
        walks["teacher"].append(rollout(teacher, config, speed, slope, s))
        walks["student"].append(rollout(teacher, config, speed, slope, s, StudentDriver(model, spec)))
    standing = [k for k in range(config.closed_loop_episodes) if not any(w[k].fell for w in walks.values())]
    cost = {name: np.array([w[k].metabolic_w_per_kg for k in standing]) for name, w in walks.items()}

    def reduction(name: str) -> tuple[float, float]:
        per_seed = 100.0 * (cost["exo_off"] - cost[name]) / cost["exo_off"]
        if len(per_seed) < 2:
            return float(per_seed.mean()) if len(per_seed) else float("nan"), float("nan")
        return float(per_seed.mean()), float(per_seed.std(ddof=1) / np.sqrt(len(per_seed)))

    teacher_pct, teacher_se = reduction("teacher")
    student_pct, student_se = reduction("student")
    return {
        "episodes": config.closed_loop_episodes,
        "pairs": len(standing),
        "falls": {name: sum(e.fell for e in w) for name, w in walks.items()},
        "student_fell": sum(e.fell for e in walks["student"]),
        "metabolic_w_per_kg": {name: float(c.mean()) if len(c) else float("nan") for name, c in cost.items()},
        "teacher_reduction_pct": teacher_pct,
        "teacher_reduction_se_pct": teacher_se,
        "student_reduction_pct": student_pct,
        "student_reduction_se_pct": student_se,
        "retained_pct": 100.0 * student_pct / teacher_pct if teacher_pct > 0 else float("nan"),
    }


def _robustness(teacher, model, spec, config: DistillConfig, seed: int) -> dict:
    speed, slope, _ = conditions(config)[-1]
    episode = rollout(teacher, config, speed, slope, seed + 500)
    out = {"speed_m_s": speed, "slope_deg": slope, "mounting": [], "noise": [], "latency": []}
    base = config.randomisation

    def rmse(randomisation) -> float:
        rng = np.random.default_rng(seed)
        sensors = SensorModel.draw(randomisation, len(IMU_NAMES), len(episode.clean_imu), rng)
        imu = sensors.apply(episode.clean_imu)
        return compare(episode, student_commands(model, spec, imu), episode.labels, spec.rate_hz)["rmse_nm_per_kg"]

    for degrees in MOUNTING_SWEEP_DEG:
        out["mounting"].append((degrees, rmse(dataclasses.replace(base, mounting_deg=degrees))))
    for scale in NOISE_SWEEP_SCALE:
        noisy = dataclasses.replace(
            base,
            gyro_noise_rad_s=base.gyro_noise_rad_s * scale,
            accel_noise_m_s2=base.accel_noise_m_s2 * scale,
            gyro_bias_rad_s=base.gyro_bias_rad_s * scale,
            accel_bias_m_s2=base.accel_bias_m_s2 * scale,
        )
        out["noise"].append((scale, rmse(noisy)))
    for periods in LATENCY_SWEEP_PERIODS:
        out["latency"].append((periods, rmse(dataclasses.replace(base, latency_periods=[periods, periods]))))
    return out


def _recordings(model, spec: FeatureSpec) -> list[dict]:
    """The student on real walking IMUs: bounded torque that repeats at the stride frequency."""
    from recordings import open_recording, segment_frames

    device = load_config(default_config("device", "hip_exo"), DeviceConfig)
    subject = load_config(default_config("subject"), SubjectConfig)
    out = []
    for name in RECORDINGS:
        # (T, pelvis/thigh_r/thigh_l, 6) in segment frames, the device's IMU order
        imu = segment_frames(open_recording(SHARED_DATA_DIR / name), tuple(device.imu_ids()), spec.rate_hz)
        torque = shaped_torque(student_commands(model, spec, imu), spec.rate_hz)
        times = np.arange(len(imu))[spec.window - 1 :] / spec.rate_hz
        clock = np.arange(len(imu)) / spec.rate_hz
        cycles = strides(clock, imu[:, 1, 2], stride_config())
        left_cycles = strides(clock, imu[:, 2, 2], stride_config())  # each side over its own gait cycle
        right_profile = phase_profile(times, torque[:, 0] / subject.body_mass_kg, cycles).mean
        left_profile = phase_profile(times, torque[:, 1] / subject.body_mass_kg, left_cycles).mean
        stride_hz = 1.0 / np.mean([b - a for a, b in cycles]) if cycles else float("nan")
        spectrum = np.abs(np.fft.rfft(torque[:, 0] - torque[:, 0].mean()))
        freqs = np.fft.rfftfreq(len(torque), 1.0 / spec.rate_hz)
        band = freqs > 0.3
        dominant = float(freqs[band][np.argmax(spectrum[band])])
        out.append(
            {
                "recording": name,
                "seconds": len(imu) / spec.rate_hz,
                "max_abs_torque_nm": float(np.abs(torque).max()),
                "torque_limit_nm": device.torque_limit_nm,
                "stride_hz": float(stride_hz),
                "dominant_torque_hz": dominant,
                "harmonic": float(dominant / stride_hz) if stride_hz == stride_hz else float("nan"),
                "profile_nm_per_kg": right_profile.tolist(),
                "profile_left_nm_per_kg": left_profile.tolist(),
                "left_right_r": float(np.corrcoef(right_profile, left_profile)[0, 1]),
            }
        )
    return out
