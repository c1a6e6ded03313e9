"""Bench analysis and report: timing, round trip, torque against gait phase, fault reactions; Markdown, PNG, JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from analysis.trace import TorqueTrace
from firmware_bridge.trial.faults import fault_episodes
from firmware_bridge.trial.reader import TrialLog, read_trial
from hil.bench import BenchRun

if TYPE_CHECKING:
    from matplotlib.figure import Figure

ASSISTING = 2
ARMED = 1
RECOVERY_S = 1.0
"""After a scheduled fault ends, the runtime's faults this long after still belong to it (re-arming takes a soft
start; scenarios leave this much between faults)."""
ONSET_SLACK_S = 0.05
FEEDER_LOOKBACK_S = 0.1
FEEDER_GAP_PERIODS = 2.0
"""A fault whose onset follows a gap of this many IMU periods in the bench's own writes is the bench's (its
Python feeder, or a closed-loop walker, ran late), not the device's: it is listed with the gap, not failed."""


@dataclass
class FaultOutcome:
    type: str
    at_s: float
    duration_s: float
    expectation: str
    reaction_s: float | None
    rearmed: bool | None
    passed: bool
    detail: str


def _percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"count": 0}
    a = np.array(values)
    return {
        "count": len(a),
        "p50": float(np.percentile(a, 50)),
        "p99": float(np.percentile(a, 99)),
        "max": float(a.max()),
    }


def round_trips_ms(run: BenchRun, log: TrialLog) -> list[float]:
    """IMU frame written by the bench → the command computed from it received by the emulator.

    Frames written during a fault (or within 0.5 s after it) are left out: faults delay frames on purpose.
    """
    received = {c.seq: c.t_s for c in run.commands}
    imu = [(t, m["seq"]) for t, m in log.messages.get("/imu/raw", [])]
    times = np.array([t for t, _ in imu])
    timing = {m["cycle"]: m for m in log.topic("/timing")}
    out = []
    for t, m in log.messages.get("/motor/command", []):
        cycle = timing.get(m["cycle"])
        if cycle is None or m["seq"] not in received:
            continue
        k = np.searchsorted(times, t + 1e3 * cycle["read_us"], side="right") - 1
        if k < 0:
            continue
        written = run.imu_writes.get(imu[k][1])
        if written is not None and not any(a - 0.05 <= written <= b + 0.5 for _, a, b in run.fault_windows):
            out.append(1e3 * (received[m["seq"]] - written))
    return [v for v in out if 0 <= v < 1000]


def fault_outcomes(run: BenchRun, log: TrialLog) -> list[FaultOutcome]:
    events = [(t / 1e9 - run.wall_offset_s, e) for t, e in log.messages.get("/events", [])]
    outcomes = []
    windows = run.fault_windows
    for n, (fault, a, b) in enumerate(windows):
        e = fault.expect
        next_start = windows[n + 1][1] if n + 1 < len(windows) else float("inf")
        disabled = [c.t_s for c in run.commands if c.t_s >= a and not c.enabled]
        reaction = (disabled[0] - a) if disabled else None
        rearmed = any(t >= b and t < next_start and ev.get("state") == "ARMED" for t, ev in events) if e.rearm else None
        if e.no_fault:
            dropped = [t for t in disabled if t <= b + 0.1]
            passed = not dropped
            expectation = "assistance continues"
            detail = "no disabled command" if passed else f"disabled {dropped[0] - a:.3f} s after injection"
        else:
            passed = reaction is not None and reaction <= e.zero_within_s and (rearmed is not False)
            expectation = f"zero within {1e3 * e.zero_within_s:.0f} ms" + (
                ", re-arm with soft start" if e.rearm else ""
            )
            detail = "never disabled" if reaction is None else f"disabled after {1e3 * reaction:.1f} ms"
            if e.rearm:
                detail += "; re-armed" if rearmed else "; NOT re-armed"
        outcomes.append(
            FaultOutcome(fault.type, fault.at_s, fault.duration_s, expectation, reaction, rearmed, passed, detail)
        )
    return outcomes


def runtime_faults(run: BenchRun, log: TrialLog) -> list[dict]:
    """Every fault episode of the runtime (firmware_bridge/trial/faults.py), each marked as caused by a
    scheduled fault or not, and, if not, whether the bench's own feeder had gone quiet just before it
    (``feeder_gap_ms``: the longest gap between its IMU writes in the :data:`FEEDER_LOOKBACK_S` before onset)."""
    writes = np.array(sorted(run.imu_writes.values()))
    period = 1.0 / run.scenario.imu_rate_hz
    out = []
    for episode in fault_episodes(log.messages.get("/events", [])):
        onset = episode.onset_ns / 1e9 - run.wall_offset_s
        scheduled = next(
            (f.type for f, a, b in run.fault_windows if a - ONSET_SLACK_S <= onset <= b + RECOVERY_S), None
        )
        t0_ns = round((run.start_s + run.wall_offset_s) * 1e9)
        before = writes[(writes >= onset - FEEDER_LOOKBACK_S) & (writes <= onset)]
        gap = float(np.max(np.diff(np.r_[before, onset]))) if before.size else FEEDER_LOOKBACK_S
        feeder_late = scheduled is None and gap >= FEEDER_GAP_PERIODS * period
        out.append(
            {**episode.as_dict(t0_ns), "scheduled": scheduled, "feeder_gap_ms": 1e3 * gap if feeder_late else None}
        )
    return out


def failing(episode: dict) -> bool:
    """A fault the device is to blame for: neither scheduled nor caused by the bench's own feeder going quiet."""
    return episode["scheduled"] is None and episode["feeder_gap_ms"] is None


def describe_cause(episode: dict) -> str:
    if episode["scheduled"]:
        return f"scheduled: {episode['scheduled']}"
    if episode["feeder_gap_ms"] is not None:
        return f"the bench's own feeder wrote no frame for {episode['feeder_gap_ms']:.0f} ms before it (not the device)"
    return "**NOT SCHEDULED**"


def analyse(run: BenchRun, thigh_ids: tuple[int, int], loop_rate_hz: float, mass_kg: float) -> dict:
    log = read_trial(run.trial_path)
    timing = log.topic("/timing")
    assisting = [m["lateness_us"] for m in timing if m["state"] == ASSISTING]
    outcomes = fault_outcomes(run, log)
    episodes = runtime_faults(run, log)
    unscheduled = [e for e in episodes if failing(e)]
    unscheduled_ok = run.scenario.allow_unscheduled_faults
    return {
        "trial": str(run.trial_path),
        "returncode": run.returncode,
        "cycles": len(timing),
        "overruns": sum(m["overrun"] for m in timing),
        "skipped": sum(m["skipped"] for m in timing),
        "lateness_us": _percentiles([m["lateness_us"] for m in timing]),
        "lateness_assisting_us": _percentiles(assisting),
        "round_trip_ms": _percentiles(round_trips_ms(run, log)),
        "loop_period_ms": 1e3 / loop_rate_hz,
        "faults": [asdict(o) for o in outcomes],
        "runtime_faults": episodes,
        "unscheduled_faults": len(unscheduled),
        "all_passed": all(o.passed for o in outcomes) and run.returncode == 0 and (unscheduled_ok or not unscheduled),
        "torque_by_phase": [[p.mean.tolist(), p.std.tolist()] for p in TorqueTrace.from_trial(log).profiles()],
        "log": log,
    }


def write_report(run: BenchRun, figures: dict, out_dir: Path, title: str) -> Path:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    plots = _plots(run, figures, out_dir)
    lt, la, rt = figures["lateness_us"], figures["lateness_assisting_us"], figures["round_trip_ms"]
    s = run.scenario
    lines = [
        f"# HIL bench report: {title}",
        "",
        f"- Source: {s.source.kind} `{s.source.path}` at {s.imu_rate_hz:g} Hz (clock drift {s.clock_drift_ppm:g} ppm), "
        f"{s.duration_s:g} s; motor emulator watchdog {1e3 * s.emulator.watchdog_s:.0f} ms, τ {1e3 * s.emulator.tau_s:.0f} ms",
        f"- Trial log: `{figures['trial']}` (runtime exit code {figures['returncode']})",
        f"- **Result: {'PASS' if figures['all_passed'] else 'FAIL'}**",
        "",
        "## Timing",
        "",
        "| figure | value |",
        "|---|---|",
        f"| cycles / overruns / skipped periods | {figures['cycles']} / {figures['overruns']} / {figures['skipped']} |",
        f"| lateness p50 / p99 / max (all cycles) | {lt.get('p50', float('nan')):.0f} / {lt.get('p99', float('nan')):.0f} / {lt.get('max', float('nan')):.0f} µs |",
        f"| lateness p50 / p99 / max (assisting) | {la.get('p50', float('nan')):.0f} / {la.get('p99', float('nan')):.0f} / {la.get('max', float('nan')):.0f} µs |",
        f"| round trip, IMU frame written → its command received (n={rt.get('count', 0)}) | "
        f"p50 {rt.get('p50', float('nan')):.2f} / p99 {rt.get('p99', float('nan')):.2f} / max {rt.get('max', float('nan')):.2f} ms |",
        "",
        "## Faults",
        "",
    ]
    if figures["faults"]:
        lines += ["| fault | at s | for s | expected | measured | result |", "|---|---|---|---|---|---|"]
    else:
        lines.append("None scheduled in this scenario.")
    for f in figures["faults"]:
        lines.append(
            f"| {f['type']} | {f['at_s']:g} | {f['duration_s']:g} | {f['expectation']} | {f['detail']} | "
            f"{'pass' if f['passed'] else '**FAIL**'} |"
        )
    episodes = figures["runtime_faults"]
    verdict = "allowed by the scenario" if s.allow_unscheduled_faults else "each fails the bench"
    lines += [
        "",
        f"### Every fault the runtime had ({len(episodes)}; {figures['unscheduled_faults']} not scheduled: {verdict})",
        "",
        *(f"- {e['text']} — {describe_cause(e)}" for e in episodes),
    ]
    if "closed_loop" in figures:
        lines += closed_loop_section(figures["closed_loop"])
    lines += ["", "## Plots", ""] + [f"![{p.stem}]({p.name})" for p in plots]
    path = out_dir / "bench_report.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def _reduction(m: dict) -> str:
    """Paired reduction: mean ± SE over the episodes (seeds) both runs walked to their end."""
    return f"{m['reduction_pct']:+.2f} ± {m['reduction_se_pct']:.2f} % ({m['pairs']} paired episodes)"


def closed_loop_summary(c: dict) -> str:
    t = c["torque_bench_vs_simulation"]
    return (
        f"closed loop: torque bench vs simulation r {t['right']['r']:.3f}/{t['left']['r']:.3f}, "
        f"RMSE {t['right']['rmse_nm_per_kg']:.4f}/{t['left']['rmse_nm_per_kg']:.4f} N·m/kg (right/left); "
        f"metabolic {c['metabolic_bench']['w_per_kg']:.2f} W/kg vs exo off {c['metabolic_exo_off_w_per_kg']:.2f} "
        f"({_reduction(c['metabolic_bench'])} reduction; simulation {_reduction(c['metabolic_simulation'])}); "
        f"falls {c['falls']['bench']} on the bench"
    )


def closed_loop_section(c: dict) -> list[str]:
    w, t, f = c["walker"], c["torque_bench_vs_simulation"], c["falls"]
    lines = [
        "",
        "## Closed loop: the simulated walker wears the device",
        "",
        f"Walker: teacher `{w['teacher']}` ({w['teacher_steps']} steps, stage `{w['teacher_stage']}`), "
        f"{w['speed_m_s']:g} m/s, {w['slope_deg']:g}°, root support {w['root_support_fraction']:g} "
        f"{'(the walker is held along its path: the teacher cannot yet walk unaided)' if w['root_support_fraction'] > 0 else '(unsupported)'}. "
        "The torque the runtime sent over serial, through the motor emulator, acts on the walker; the reference is "
        "the same student on the same walker in-process (no serial link), and the walker with the exo off.",
        "",
        "| figure | right | left |",
        "|---|---|---|",
        f"| torque profile r, bench vs simulation | {t['right']['r']:.3f} | {t['left']['r']:.3f} |",
        f"| torque profile RMSE (N·m/kg) | {t['right']['rmse_nm_per_kg']:.4f} | {t['left']['rmse_nm_per_kg']:.4f} |",
        f"| strides (bench / simulation) | {t['right']['strides_bench']} / {t['right']['strides_simulation']} | "
        f"{t['left']['strides_bench']} / {t['left']['strides_simulation']} |",
        f"| peak flexion (N·m/kg @ % cycle), bench | {t['right']['peak_flexion_bench'][0]:.3f} @ {t['right']['peak_flexion_bench'][1]:.0f} | "
        f"{t['left']['peak_flexion_bench'][0]:.3f} @ {t['left']['peak_flexion_bench'][1]:.0f} |",
        f"| peak extension (N·m/kg @ % cycle), bench | {t['right']['peak_extension_bench'][0]:.3f} @ {t['right']['peak_extension_bench'][1]:.0f} | "
        f"{t['left']['peak_extension_bench'][0]:.3f} @ {t['left']['peak_extension_bench'][1]:.0f} |",
        "",
        "| run | metabolic probe (W/kg) | reduction vs exo off, paired by episode seed (mean ± SE) | falls |",
        "|---|---|---|---|",
        f"| exo off | {c['metabolic_exo_off_w_per_kg']:.3f} | | {f['exo_off']} |",
        f"| student, simulation | {c['metabolic_simulation']['w_per_kg']:.3f} | {_reduction(c['metabolic_simulation'])} | {f['simulation']} |",
        f"| student, bench (serial) | {c['metabolic_bench']['w_per_kg']:.3f} | {_reduction(c['metabolic_bench'])} | {f['bench']} |",
    ]
    return lines


def figures_json(figures: dict) -> str:
    """The figures as JSON text (without the raw log), for ``hipexo bench --json``."""
    return json.dumps({k: v for k, v in figures.items() if k != "log"}, indent=1, default=float)


def _plots(run: BenchRun, figures: dict, out_dir: Path) -> list[Path]:
    written = []
    for name, fig in bench_figures(run, figures).items():
        fig.tight_layout()
        fig.savefig(out_dir / f"{name}.png", dpi=100)
        written.append(out_dir / f"{name}.png")
    return written


def bench_figures(run: BenchRun, figures: dict) -> dict[str, Figure]:
    """name → figure, each axis labelled with its unit, budgets drawn as lines, every shaded band in a legend."""
    from matplotlib.figure import Figure

    log = figures["log"]
    period_ms = figures["loop_period_ms"]
    out = {}
    fig = Figure(figsize=(10, 3.2))
    axes = fig.subplots(1, 2)
    lateness = np.array([m["lateness_us"] for m in log.topic("/timing")])
    edges = np.geomspace(1.0, max(1e3 * period_ms, lateness.max(initial=1.0)) * 1.5, 60)
    axes[0].hist(np.clip(lateness, 1.0, None), bins=edges, log=True, label="cycles")
    axes[0].set_xscale("log")
    axes[0].axvline(1e3 * period_ms, color="tab:red", ls="--", label=f"budget: one period ({period_ms:g} ms)")
    axes[0].set_xlabel("loop lateness: start − when due (µs; < 1 shown at 1)")
    axes[0].set_ylabel("cycles (log scale)")
    rtt = round_trips_ms(run, log)
    axes[1].hist(rtt, bins=60, label="IMU frames")
    axes[1].axvline(period_ms, color="tab:red", ls="--", label=f"budget: one period ({period_ms:g} ms)")
    if rtt:
        axes[1].axvline(np.percentile(rtt, 99), color="0.3", ls=":", label="p99")
    axes[1].set_xlabel("round trip: IMU frame written → its command received (ms)")
    axes[1].set_ylabel("IMU frames")
    for ax in axes:
        ax.legend(fontsize=7)
    out["timing"] = fig
    profile = np.array(figures["torque_by_phase"])
    fig = Figure(figsize=(6, 3.2))
    ax = fig.subplots()
    x = np.arange(profile.shape[-1])
    for side, colour, label in ((0, "tab:red", "right"), (1, "tab:blue", "left")):
        ax.plot(x, profile[side, 0], color=colour, label=f"{label}: mean over strides")
        ax.fill_between(
            x,
            profile[side, 0] - profile[side, 1],
            profile[side, 0] + profile[side, 1],
            color=colour,
            alpha=0.2,
            label=f"{label}: ± 1 SD",
        )
    ax.axhline(0, color="0.7", lw=0.8)
    ax.set_xlabel("% gait cycle (thigh-gyro strides)")
    ax.set_ylabel("commanded torque (N·m/kg, + flexion)")
    ax.legend(fontsize=7)
    out["torque_vs_phase"] = fig
    fig = Figure(figsize=(12, 3.4))
    ax = fig.subplots()
    t = np.array([c.t_s - run.start_s for c in run.commands])
    right = np.array([c.right_nm if c.enabled else 0.0 for c in run.commands])
    ax.plot(t, right, lw=0.7, color="tab:red", label="right command received")
    labelled = set()
    for f, (spec_, a, b) in zip(figures["faults"], run.fault_windows, strict=True):
        band = "fault injected: expectation met" if f["passed"] else "fault injected: expectation MISSED"
        colour = "tab:green" if f["passed"] else "tab:orange"
        ax.axvspan(a - run.start_s, b - run.start_s, color=colour, alpha=0.25, label=_once(band, labelled))
        if spec_.expect.zero_within_s is not None:
            budget = a - run.start_s + spec_.expect.zero_within_s
            ax.axvline(budget, color="k", ls="--", lw=0.8, label=_once("budget: zero torque by", labelled))
        ax.text(
            a - run.start_s, 0.97, spec_.type, fontsize=7, rotation=90, va="top", transform=ax.get_xaxis_transform()
        )
    ax.set_xlabel("bench time (s)")
    ax.set_ylabel("right hip command (N·m; 0 when disabled)")
    ax.set_title("fault timeline")
    ax.legend(fontsize=7, loc="lower right")
    out["fault_timeline"] = fig
    if "closed_loop" in figures:
        profiles = figures["closed_loop"]["profiles"]
        fig = Figure(figsize=(10, 3.2))
        axes = fig.subplots(1, 2, sharey=True)
        for side, ax in enumerate(axes):
            ax.plot(profiles["simulation"][side], color="0.4", label="student in simulation")
            ax.plot(profiles["bench"][side], color="tab:red", label="student on the bench (serial)")
            ax.axhline(0, color="0.7", lw=0.8)
            ax.set_title(("right", "left")[side])
            ax.set_xlabel("% gait cycle (thigh-gyro strides)")
            ax.set_ylabel("hip torque (N·m/kg, + flexion)")
        axes[0].legend(fontsize=8)
        out["closed_loop_torque"] = fig
    return out


def _once(label: str, seen: set[str]) -> str:
    """``label`` the first time, then a label the legend leaves out: one legend entry per kind of mark."""
    if label in seen:
        return "_" + label
    seen.add(label)
    return label
