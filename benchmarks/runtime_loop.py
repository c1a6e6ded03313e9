"""The device loop under load: timing, latency, CPU and memory, against opensourceleg's SoftRealtimeLoop.

Usage: python benchmarks/runtime_loop.py [--seconds 60] [--fast-seconds 20] [--inference-runs 3000] [--load] [--quick]
       python benchmarks/runtime_loop.py --live [--pairs 2] [--seconds 60] [--load] [--quick]

A ~100k-parameter causal TCN over a 1 s window of 12 IMU channels (exported to ONNX in its streaming form,
the default student, in a real bundle) runs in the real runtime, fed 100 Hz IMU frames over a pty by a
separate process. First, in this process, the student alone, interleaved so every model sees the same
machine: per call (ONNX Runtime, 1 intra-op thread) and per cycle (feature window push + hand-out + call),
windowed vs streaming, at the window W and at 4W (same weights), plus PyTorch eager on the windowed model.
``window_cost_ratio`` is the median per-cycle cost at 4W over W. Then, one after the other:

1. ``hipexo run`` as shipped (event-driven: a cycle starts when a complete IMU sample arrives): lateness
   (start − when due: the sample's arrival, or the deadline when none came), overruns, per-stage p99,
   IMU-arrival → command-written latency, logging cost, CPU use and peak RSS of the runtime process;
2. ``hipexo run`` on deadlines only (``trigger_on_imu`` off, phase-locked: the previous default), and
3. the same cycle driven by ``SoftRealtimeLoop`` (absolute-phase mode) in the same kind of process:
   arrival → command for all three, and the ratio of p99 lateness of the two deadline loops (2 and 3);
4. ``hipexo run`` at 500 Hz for headroom;
``--load``: a busy process pinned to the last CPU for the whole run (a device computer is rarely idle).
``--quick``: 6 s per 100 Hz run, 4 s at 500 Hz, 500 inferences. The last line holds the headline figures;
the line before it, every figure.

``--live`` measures only what the live view (``hipexo run --live``) costs the loop: ``--pairs`` pairs of
event-driven 100 Hz runs, one without the view and one with it serving a Foxglove client (hil/live_client.py,
in this process) subscribed to every channel, alternated so both see the same machine; lateness and
arrival → command pooled per side, medians and p99, and their ratios with / without (the headline).
"""

from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import yaml
from figures import parse_args, print_headline  # benchmarks/figures.py, beside this script

from analysis.latency import arrival_to_command_ms
from firmware_bridge.bundle import load_bundle
from firmware_bridge.config import DeviceConfig, RuntimeConfig, SubjectConfig, load_config
from firmware_bridge.config.paths import REPO_ROOT, default_config
from firmware_bridge.features import FeatureSpec
from firmware_bridge.protocol.messages import ImuReading, ImuSample
from firmware_bridge.signing import Trust
from firmware_bridge.trial.reader import read_trial
from hil.pty_link import FramePeer, PtyPair

CHANNELS = [f"{imu}.{q}_{a}" for imu in ("thigh_r", "thigh_l") for q in ("gyro", "accel") for a in "xyz"]
WINDOW_S = 1.0
STAGES = ("read", "features", "infer", "shape", "write", "log")


# --- the student --------------------------------------------------------------------------------------
def build_bundle(folder: Path, rate_hz: float, window: int, streaming: bool) -> tuple[Path, int]:
    """The benchmark TCN (seeded random weights, the same in every bundle) exported as the distillation does."""
    import torch

    from distill.export import write_bundle
    from distill.models import CausalTCN, parameter_count

    torch.manual_seed(0)
    model = CausalTCN(len(CHANNELS)).eval()
    spec = FeatureSpec(tuple(CHANNELS), window, rate_hz, (0.0,) * len(CHANNELS), (2.0,) * len(CHANNELS))
    device = load_config(default_config("device", "hip_exo"), DeviceConfig)
    sequences = list(np.random.default_rng(0).normal(size=(1, 2 * window, len(CHANNELS))).astype(np.float32))
    note = {"note": "benchmark model, random weights"}
    write_bundle(model, spec, device, folder, sequences, note, streaming)
    torch.save(model.state_dict(), folder / "weights.pt")
    return folder, parameter_count(model)


def inference_comparison(bundles: dict[str, Path], runs: int = 3000) -> dict[str, float]:
    """``bundles``: label → bundle; per call and per cycle p50/p99 (ms) of each, interleaved, plus eager."""
    import torch

    from distill.models import CausalTCN
    from firmware_bridge.features import FeatureWindow
    from firmware_bridge.runtime.controller import OnnxStudent

    torch.set_num_threads(1)
    runtime = load_config(default_config("runtime"), RuntimeConfig)
    device = load_config(default_config("device", "hip_exo"), DeviceConfig)
    loaded = {
        label: load_bundle(path, runtime, device, trust=Trust(allow_unsigned=True)) for label, path in bundles.items()
    }
    students = {label: OnnxStudent(bundle) for label, bundle in loaded.items()}
    windows = {label: FeatureWindow(bundle.features, device.imu_ids()) for label, bundle in loaded.items()}
    eager_model = CausalTCN(len(CHANNELS)).eval()
    eager_model.load_state_dict(torch.load(next(iter(bundles.values())) / "weights.pt"))
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(runs + max(w.spec.window for w in windows.values()), len(CHANNELS)))
    for label, window in windows.items():  # fill: every model past its (re)start, as in an assisting loop
        for row in rows[: window.spec.window]:
            window.push_raw(row)
        students[label].command(window.tensor())
    call = {label: np.empty(runs) for label in bundles}
    cycle = {label: np.empty(runs) for label in bundles}
    eager = np.empty(runs)
    first = next(iter(windows.values()))
    with torch.inference_mode():
        for i, row in enumerate(rows[-runs:]):
            for label, window in windows.items():
                t0 = time.perf_counter_ns()
                window.push_raw(row)
                features = window.tensor()
                t1 = time.perf_counter_ns()
                students[label].command(features)
                t2 = time.perf_counter_ns()
                call[label][i], cycle[label][i] = t2 - t1, t2 - t0
            t0 = time.perf_counter_ns()
            eager_model(torch.from_numpy(first.tensor()))
            eager[i] = time.perf_counter_ns() - t0
    out = {"eager_p50_ms": np.percentile(eager, 50) / 1e6, "eager_p99_ms": np.percentile(eager, 99) / 1e6}
    for label in bundles:
        for name, values in (("call", call[label]), ("cycle", cycle[label])):
            out[f"{label}_{name}_p50_ms"] = np.percentile(values, 50) / 1e6
            out[f"{label}_{name}_p99_ms"] = np.percentile(values, 99) / 1e6
    return out


# --- the IMU feeder (its own process) -----------------------------------------------------------------
def feed(master_fd: int, rate_hz: float, stop_at: float) -> None:
    """IMU frames at ``rate_hz`` on absolute deadlines, walking-like values; drains what comes back.

    Like a sensor's microcontroller, the feeder keeps time: SCHED_FIFO where allowed (one above the runtime).
    """
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(60))
    except (OSError, AttributeError):
        pass
    peer = FramePeer(master_fd)
    period = 1.0 / rate_hz
    next_t = time.monotonic()
    k = 0
    while time.monotonic() < stop_at:
        phase = 2 * math.pi * k * period
        readings = tuple(
            ImuReading(i, (0.1 * math.sin(phase), 0.2, 2.0 * math.sin(phase + i)), (1.0, 9.81, 0.5 * math.cos(phase)))
            for i in (0, 1, 2)
        )
        try:
            peer.send(ImuSample(readings))
        except OSError:
            return
        peer.poll()
        peer.received.clear()
        k += 1
        next_t += period
        delay = next_t - time.monotonic()
        if delay > 0:
            time.sleep(delay)


# --- one run -------------------------------------------------------------------------------------------
def run_loop(
    mode: str, bundle: Path, seconds: float, rate_hz: float, work: Path, live: bool = False, label: str = ""
) -> dict[str, float]:
    """One run of ``mode`` ('event', 'locked' or 'srl'); ``live``: with the live view and a client subscribed."""
    pty = PtyPair()
    runtime_cfg = yaml.safe_load(default_config("runtime").read_text())
    runtime_cfg.update(loop_rate_hz=rate_hz, trigger_on_imu=mode == "event")
    config_path = work / f"runtime_{mode}_{rate_hz:g}.yaml"
    config_path.write_text(yaml.safe_dump(runtime_cfg))
    trial_dir = work / f"trials_{mode}_{rate_hz:g}{label}"
    if mode == "srl":
        command = [
            sys.executable,
            __file__,
            "--srl-child",
            str(bundle),
            pty.device_path,
            str(config_path),
            str(trial_dir),
            str(seconds),
        ]
    else:
        command = [
            sys.executable,
            "-m",
            "tools.cli",
            "run",
            "--bundle",
            str(bundle),
            "--imu-port",
            pty.device_path,
            "--runtime-config",
            str(config_path),
            "--out",
            str(trial_dir),
            "--duration",
            str(seconds),
            "--allow-unsigned",  # the benchmark's own throwaway bundle
            "--dev-subject",  # the simulated development subject: no one wears the device
        ]
        command += ["--live", "127.0.0.1:0"] if live else []
    feeder = mp.get_context("fork").Process(target=feed, args=(pty.master, rate_hz, time.monotonic() + seconds + 30))
    feeder.start()
    process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True)
    reader.start()
    watcher = LiveWatcher(lines) if live else None
    peak_kb, cpu_s, started = 0, 0.0, time.monotonic()
    while process.poll() is None:
        peak_kb, cpu_s = max(peak_kb, _vm_hwm_kb(process.pid)), max(cpu_s, _cpu_seconds(process.pid))
        time.sleep(0.2)
    wall = time.monotonic() - started
    reader.join(5.0)
    feeder.terminate()
    feeder.join()
    pty.close()
    output = "".join(lines)
    if process.returncode != 0:
        raise SystemExit(f"{mode} run failed ({process.returncode}):\n{output}")
    (path,) = trial_dir.glob("*.mcap")
    figures = _timing_figures(read_trial(path))
    figures.update(peak_rss_mb=peak_kb / 1024, cpu_percent=100 * cpu_s / wall)
    if watcher is not None:
        watcher.join(10.0)
        if watcher.messages == 0:
            raise SystemExit(f"the live view's client received nothing ({watcher.error}):\n{output}")
        figures.update(live_messages=watcher.messages, live_subscribed_s=watcher.subscribed_s)
    return figures


class LiveWatcher(threading.Thread):
    """Waits for the runtime to say where its live view serves, then watches every channel until it closes."""

    SERVING = re.compile(r"live view: ws://127\.0\.0\.1:(\d+) ")

    def __init__(self, lines: list[str]):
        super().__init__(daemon=True)
        self.lines, self.messages, self.subscribed_s, self.error = lines, 0, 0.0, ""
        self.start()

    def run(self) -> None:
        from firmware_bridge.trial.channels import trial_channels
        from hil.live_client import LiveClient

        deadline = time.monotonic() + 30
        while not (found := [m for line in list(self.lines) if (m := self.SERVING.search(line))]):
            if time.monotonic() > deadline:
                self.error = "no live view address within 30 s"
                return
            time.sleep(0.05)
        with LiveClient(int(found[0][1])) as client:
            client.subscribe(
                client.advertised(
                    trial_channels(load_config(default_config("device", "hip_exo"), DeviceConfig).imu_ids())
                )
            )
            subscribed = time.monotonic()
            for _ in client.messages():
                self.messages += 1
            self.subscribed_s = time.monotonic() - subscribed


def _vm_hwm_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError):
        return 0.0


def _timing_figures(log) -> dict:
    """Figures of the assisting cycles, and under ``series`` their lateness and arrival → command, for pooling."""
    timing = log.messages["/timing"]
    steady = [(t, m) for t, m in timing if m["state"] == 2]  # ASSISTING: the student runs every cycle
    lateness = np.array([m["lateness_us"] for _, m in steady])
    out = {
        "cycles": len(steady),
        "overruns": sum(m["overrun"] for _, m in steady),
        "skipped": sum(m["skipped"] for _, m in steady),
        "late_p50_us": np.percentile(lateness, 50),
        "late_p99_us": np.percentile(lateness, 99),
        "late_p999_us": np.percentile(lateness, 99.9),
        "late_max_us": lateness.max(),
        "log_drops": max(m["log_drops"] for _, m in timing),
    }
    for stage in STAGES:
        out[f"{stage}_p99_us"] = np.percentile([m[f"{stage}_us"] for _, m in steady], 99)
    latencies = arrival_to_command_ms(log, 2)
    out["arrival_to_command_p50_ms"] = np.percentile(latencies, 50)
    out["arrival_to_command_p99_ms"] = np.percentile(latencies, 99)
    out["series"] = {"late_us": lateness.tolist(), "arrival_to_command_ms": list(latencies)}
    return out


# --- SoftRealtimeLoop child ---------------------------------------------------------------------------
def srl_child(bundle_dir: str, port: str, config_path: str, trial_dir: str, seconds: str) -> None:
    """The same runtime objects and cycle, timed by opensourceleg's SoftRealtimeLoop instead of ours."""
    from opensourceleg.utilities.softrealtimeloop import SoftRealtimeLoop

    from firmware_bridge.runtime.controller import OnnxStudent
    from firmware_bridge.runtime.link import SerialLink
    from firmware_bridge.runtime.loop import DeviceRuntime
    from firmware_bridge.runtime.realtime import configure_process, freeze_garbage_collector
    from firmware_bridge.runtime.safety import State
    from firmware_bridge.runtime.timing import CycleTiming
    from firmware_bridge.trial.writer import TrialLogger

    runtime = load_config(config_path, RuntimeConfig)
    device = load_config(default_config("device", "hip_exo"), DeviceConfig)
    subject = load_config(default_config("subject"), SubjectConfig)
    bundle = load_bundle(Path(bundle_dir), runtime, device, trust=Trust(allow_unsigned=True))
    link = SerialLink(port, runtime.baud, runtime.watchdog.reconnect_interval_s)
    logger = TrialLogger(
        Path(trial_dir) / "srl.mcap",
        {},
        {},
        runtime.log_queue_size,
        time.time_ns() - time.monotonic_ns(),
        device.imu_ids(),
    )
    loop = DeviceRuntime(runtime, device, subject, OnnxStudent(bundle), bundle.features, [link], link, logger)
    configure_process(runtime.realtime_priority, list(runtime.cpu_affinity))  # the same process setup as ours
    freeze_garbage_collector()
    timing = CycleTiming()
    srl = SoftRealtimeLoop(dt=1.0 / runtime.loop_rate_hz, report=False, maintain_original_phase=True)
    started = time.monotonic_ns()
    for k, _ in enumerate(srl):
        now = time.monotonic_ns()
        # SoftRealtimeLoop's own deadline for this iteration (it advances it by dt before returning)
        deadline = now if k == 0 else round((srl.loop_deadline - srl.dt) * 1e9)
        timing.deadline_ns = timing.due_ns = deadline
        timing.start_ns, timing.skipped = now, 0
        if now - started > float(seconds) * 1e9:
            loop.request_stop("duration reached")
        loop.step(timing)
        loop.clock.end_cycle(timing)
        if loop.machine.state == State.STOPPED:
            break
    logger.close()
    link.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--fast-seconds", type=float, default=20.0)
    parser.add_argument("--inference-runs", type=int, default=3000)
    parser.add_argument("--load", action="store_true", help="a busy process on the last CPU throughout")
    parser.add_argument("--live", action="store_true", help="only the live view's cost: runs without and with it")
    parser.add_argument("--pairs", type=int, default=2, help="--live: alternated runs without / with the view")
    parser.add_argument("--srl-child", nargs=5, metavar="ARG", help=argparse.SUPPRESS)
    args = parse_args(parser, seconds=6.0, fast_seconds=4.0, inference_runs=500)
    if args.srl_child:
        srl_child(*args.srl_child)
        return
    load = mp.get_context("spawn").Process(target=busy, daemon=True) if args.load else None
    if load is not None:
        load.start()
    try:
        figures, headline = measure_live(args) if args.live else measure(args)
    finally:
        if load is not None:
            load.terminate()
            load.join()
    print_headline(figures | {"load": args.load}, args.quick)
    print_headline(headline, args.quick)


def busy() -> None:
    """The load: one process spinning on the last CPU."""
    os.sched_setaffinity(0, {max(os.sched_getaffinity(0))})
    while True:
        pass


def measure_live(args: argparse.Namespace) -> tuple[dict, dict]:
    """The loop without and with the live view (a client subscribed to every channel), alternated in pairs."""
    pooled: dict[bool, dict[str, list[float]]] = {False: {}, True: {}}
    runs: dict[bool, list[dict]] = {False: [], True: []}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        bundle, _ = build_bundle(work / "stream_w", 100.0, round(WINDOW_S * 100.0), streaming=True)
        for pair in range(args.pairs):
            for live in (False, True):
                label = f"_{'live' if live else 'plain'}_{pair}"
                figures = run_loop("event", bundle, args.seconds, 100.0, work, live=live, label=label)
                runs[live].append(figures)
                for key, values in figures.pop("series").items():
                    pooled[live].setdefault(key, []).extend(values)
                print(
                    f"pair {pair} {'with' if live else 'without'} the live view: {figures['cycles']} cycles, "
                    f"lateness p50 {figures['late_p50_us']:.0f} / p99 {figures['late_p99_us']:.0f} µs, arrival→command "
                    f"p50 {figures['arrival_to_command_p50_ms']:.2f} / p99 {figures['arrival_to_command_p99_ms']:.2f} ms, "
                    f"{figures['overruns']} overruns, {figures['log_drops']} log drops"
                    + (f", {figures['live_messages']} messages to the client" if live else ""),
                    flush=True,
                )
    out: dict[str, float] = {}
    for live, side in ((False, "without"), (True, "with")):
        for key, values in pooled[live].items():
            out[f"{side}_{key}_p50"] = float(np.percentile(values, 50))
            out[f"{side}_{key}_p99"] = float(np.percentile(values, 99))
        out[f"{side}_overruns"] = sum(r["overruns"] for r in runs[live])
        out[f"{side}_log_drops"] = sum(r["log_drops"] for r in runs[live])
        out[f"{side}_cpu_percent"] = float(np.mean([r["cpu_percent"] for r in runs[live]]))
    out["live_messages_per_s"] = sum(r["live_messages"] / r["live_subscribed_s"] for r in runs[True]) / args.pairs
    for key in ("late_us", "arrival_to_command_ms"):
        for q in ("p50", "p99"):
            out[f"ratio_{key}_{q}"] = out[f"with_{key}_{q}"] / out[f"without_{key}_{q}"]
    print(
        f"{args.pairs} pairs of {args.seconds:g} s: lateness p50 {out['without_late_us_p50']:.0f} → "
        f"{out['with_late_us_p50']:.0f} µs ({out['ratio_late_us_p50']:.2f}x), p99 {out['without_late_us_p99']:.0f} → "
        f"{out['with_late_us_p99']:.0f} µs ({out['ratio_late_us_p99']:.2f}x); arrival→command p50 "
        f"{out['without_arrival_to_command_ms_p50']:.2f} → {out['with_arrival_to_command_ms_p50']:.2f} ms, p99 "
        f"{out['without_arrival_to_command_ms_p99']:.2f} → {out['with_arrival_to_command_ms_p99']:.2f} ms"
    )
    headline = {key: out[key] for key in out if key.startswith("ratio_")} | {
        "without_late_us_p99": out["without_late_us_p99"],
        "with_late_us_p99": out["with_late_us_p99"],
        "with_overruns": out["with_overruns"],
        "with_log_drops": out["with_log_drops"],
        "live_messages_per_s": out["live_messages_per_s"],
        "pairs": args.pairs,
    }
    return out, headline


def measure(args: argparse.Namespace) -> tuple[dict, dict]:
    """Every figure, and the headline."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        window = round(WINDOW_S * 100.0)
        built = {
            f"{kind}_{label}": build_bundle(work / f"{kind}_{label}", 100.0, periods, kind == "stream")
            for label, periods in (("w", window), ("4w", 4 * window))
            for kind in ("windowed", "stream")
        }
        bundles = {label: path for label, (path, _) in built.items()}
        bundle, params = built["stream_w"]
        fast_bundle, _ = build_bundle(work / "bundle_500", 500.0, window, streaming=True)
        print(f"student: causal TCN, {params} parameters, window W = {window} periods (1 s at 100 Hz), 12 channels")
        inference = inference_comparison(bundles, args.inference_runs)
        print("inference, 1 thread (ms):   per call p50 / p99   |   per cycle (features + call) p50 / p99")
        for label in bundles:
            print(
                f"  {label:>12}: {inference[f'{label}_call_p50_ms']:.3f} / {inference[f'{label}_call_p99_ms']:.3f}"
                f"   |   {inference[f'{label}_cycle_p50_ms']:.3f} / {inference[f'{label}_cycle_p99_ms']:.3f}"
            )
        ratios = {
            kind: inference[f"{kind}_4w_cycle_p50_ms"] / inference[f"{kind}_w_cycle_p50_ms"]
            for kind in ("windowed", "stream")
        }
        print(
            f"per-cycle cost at 4W / W (p50): streaming {ratios['stream']:.2f}x, windowed {ratios['windowed']:.2f}x; "
            f"PyTorch eager (windowed, W) p50 {inference['eager_p50_ms']:.3f} ms, p99 {inference['eager_p99_ms']:.3f} ms"
        )
        results = {}
        for mode, path, seconds, rate in (
            ("event", bundle, args.seconds, 100.0),
            ("locked", bundle, args.seconds, 100.0),
            ("srl", bundle, args.seconds, 100.0),
            ("event", fast_bundle, args.fast_seconds, 500.0),
        ):
            label = f"{mode} {rate:g} Hz"
            results[label] = run_loop(mode, path, seconds, rate, work)
            results[label].pop("series")
            r = results[label]
            print(
                f"{label:>16}: {r['cycles']} cycles, {r['overruns']} overruns, {r['skipped']} skipped; lateness p50 "
                f"{r['late_p50_us']:.0f} µs, p99 {r['late_p99_us']:.0f} µs, p99.9 {r['late_p999_us']:.0f} µs, max "
                f"{r['late_max_us']:.0f} µs; arrival→command p50 {r['arrival_to_command_p50_ms']:.2f} ms, p99 "
                f"{r['arrival_to_command_p99_ms']:.2f} ms; stage p99 µs "
                + ", ".join(f"{s} {r[f'{s}_p99_us']:.0f}" for s in STAGES)
                + f"; log drops {r['log_drops']}; CPU {r['cpu_percent']:.1f} %; peak RSS {r['peak_rss_mb']:.0f} MB"
            )
        ratio = results["srl 100 Hz"]["late_p99_us"] / results["locked 100 Hz"]["late_p99_us"]
        print(f"p99 lateness ratio SoftRealtimeLoop / ours on deadlines (same work, same rate): {ratio:.1f}x")
    figures = {
        f"{label.replace(' Hz', 'hz').replace(' ', '_')}_{key}": v
        for label, r in results.items()
        for key, v in r.items()
    }
    figures |= {f"infer_{key}": v for key, v in inference.items()}
    figures |= {
        "ratio_p99_late_srl_vs_locked": ratio,
        "ratio_p99_infer_eager_vs_onnx": inference["eager_p99_ms"] / inference["windowed_w_call_p99_ms"],
        "student_parameters": params,
        "infer_p99_ms": inference["stream_w_call_p99_ms"],
        "window_cost_ratio": ratios["stream"],
        "windowed_infer_p99_ms": inference["windowed_w_call_p99_ms"],
        "windowed_window_cost_ratio": ratios["windowed"],
    }
    ours, srl = results["event 100 Hz"], results["srl 100 Hz"]
    headline = {
        "arrival_to_command_p50_ms": ours["arrival_to_command_p50_ms"],
        "arrival_to_command_p99_ms": ours["arrival_to_command_p99_ms"],
        "infer_p99_ms": inference["stream_w_call_p99_ms"],
        "window_cost_ratio": ratios["stream"],
        "log_p99_us": ours["log_p99_us"],
        "lateness_p99_us": ours["late_p99_us"],
        "srl_lateness_p99_us": srl["late_p99_us"],
        "overruns": ours["overruns"],
    }
    return figures, headline


if __name__ == "__main__":
    main()
