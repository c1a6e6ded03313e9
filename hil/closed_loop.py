"""Closed-loop references for the bench: the same student on the same walker, without the serial link.

``simulate_device`` runs the device's signal path in-process, period by period: the walker's IMUs →
firmware_bridge's feature window → the ONNX student → the device's shaping chain → torque on the walker.
With ``bundle_dir=None`` the exo stays off (the metabolic baseline). Comparing the bench run with these
isolates what the real link adds: serial latency, the runtime's timing, the actuator's lag.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from analysis.gait import agreement, stride_config
from analysis.trace import TorqueTrace
from firmware_bridge.bundle import load_bundle
from firmware_bridge.config import DeviceConfig, RuntimeConfig, SubjectConfig
from firmware_bridge.features import FeatureWindow, LatestImu
from firmware_bridge.protocol.messages import ImuReading
from firmware_bridge.runtime.controller import OnnxStudent
from firmware_bridge.shaping import ShaperState, ShapingParams, shape_step
from firmware_bridge.signing import Trust
from hil.walker_source import SimulatedWalkerSource, WalkerRecord


def simulate_device(
    source: SimulatedWalkerSource,
    bundle_dir: Path | None,
    trust: Trust,
    runtime: RuntimeConfig,
    device: DeviceConfig,
    subject: SubjectConfig,
    progress=None,
) -> TorqueTrace:
    ids = device.imu_ids()
    thighs = [ids[channel.split(".")[0]] for channel in stride_config().channels]
    controller = window = None
    if bundle_dir is not None:
        bundle = load_bundle(bundle_dir, runtime, device, trust=trust)
        controller, window = OnnxStudent(bundle), FeatureWindow(bundle.features, ids)
    shaping = ShapingParams.from_config(device, subject, runtime.loop_rate_hz)
    shaper = ShaperState.initial(shaping)
    period = 1.0 / source.rate_hz
    times, gyro, torques = [], [], []
    k = 0
    while (sample := source.sample(k)) is not None:
        torque = (0.0, 0.0)
        if window is not None:
            now = k * period
            window.push({i: LatestImu(ImuReading(i, g, a), now, k) for i, (g, a) in sample.items()}, now)
            if window.ready:
                right, left = controller.command(window.tensor(), k * period)
                shaped = shape_step(shaping, shaper, right, left)
                torque = (shaped.right_nm, shaped.left_nm)
        source.apply_torque(*torque)
        times.append(k * period)
        gyro.append([sample[i][0][2] for i in thighs])
        torques.append(torque)
        k += 1
        if progress is not None and k % round(source.rate_hz) == 0:
            progress(k * period)
    t = np.array(times)
    return TorqueTrace(t, np.array(gyro), t, np.array(torques), subject.body_mass_kg, "simulation (no serial link)")


def paired_reduction(worn: WalkerRecord, exo_off: WalkerRecord) -> dict:
    """Per-seed reduction (%) over the episodes both runs finished without a fall: mean, SE, pairs."""
    baseline = {e.seed: e for e in exo_off.finished if not e.fell}
    reductions = [
        100.0 * (baseline[e.seed].metabolic_w_per_kg - e.metabolic_w_per_kg) / baseline[e.seed].metabolic_w_per_kg
        for e in worn.finished
        if not e.fell and e.seed in baseline
    ]
    n = len(reductions)
    return {
        "reduction_pct": float(np.mean(reductions)) if n else float("nan"),
        "reduction_se_pct": float(np.std(reductions, ddof=1) / np.sqrt(n)) if n > 1 else float("nan"),
        "pairs": n,
    }


def closed_loop_figures(
    bench: TorqueTrace,
    bench_walker: WalkerRecord,
    simulated: TorqueTrace,
    simulated_walker: WalkerRecord,
    exo_off: WalkerRecord,
) -> dict:
    """Torque agreement bench vs simulation, metabolic cost against exo off (paired by episode seed), falls."""
    config = stride_config()
    bench_profiles, sim_profiles = bench.profiles(config), simulated.profiles(config)
    off = float(np.mean(exo_off.metabolic_w_per_kg))

    def metabolic(record: WalkerRecord) -> dict:
        return {"w_per_kg": float(np.mean(record.metabolic_w_per_kg)), **paired_reduction(record, exo_off)}

    sides = {}
    for side, name in enumerate(("right", "left")):
        r, rmse = agreement(bench_profiles[side], sim_profiles[side])
        sides[name] = {
            "r": r,
            "rmse_nm_per_kg": rmse,
            "strides_bench": bench_profiles[side].strides,
            "strides_simulation": sim_profiles[side].strides,
            "peak_flexion_bench": bench_profiles[side].peak_positive,
            "peak_extension_bench": bench_profiles[side].peak_negative,
        }
    return {
        "torque_bench_vs_simulation": sides,
        "metabolic_exo_off_w_per_kg": off,
        "metabolic_bench": metabolic(bench_walker),
        "metabolic_simulation": metabolic(simulated_walker),
        "falls": {
            "bench": bench_walker.falls,
            "simulation": simulated_walker.falls,
            "exo_off": exo_off.falls,
            "episodes_bench": bench_walker.episodes,
        },
        "profiles": {
            "bench": [p.mean.tolist() for p in bench_profiles],
            "simulation": [p.mean.tolist() for p in sim_profiles],
        },
    }
