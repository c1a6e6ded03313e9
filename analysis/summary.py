"""What ``hipexo trial inspect | list`` print, from a :class:`TrialLog`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from firmware_bridge.runtime.safety import State
from firmware_bridge.trial.faults import FaultEpisode, fault_episodes
from firmware_bridge.trial.reader import TrialLog, TrialLogError, read_trial


@dataclass
class TrialSummary:
    path: Path
    complete: bool
    trial: dict[str, str]
    duration_s: float
    cycles: int
    overruns: int
    skipped: int
    lateness_us: dict[str, float]
    faults: list[FaultEpisode]
    start_ns: int
    """Log time of the first cycle (fault onsets are given from here)."""
    markers: list[str]
    torque_range_nm: dict[str, tuple[float, float]]
    imu_frames: int
    log_drops: int
    states: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    log_format: int = 2


def summarise(log: TrialLog) -> TrialSummary:
    timing = log.topic("/timing")
    shaped = log.topic("/torque/shaped")
    events = log.topic("/events")
    times = [t for t, _ in log.messages.get("/timing", [])]
    lateness = np.array([m["lateness_us"] for m in timing]) if timing else np.zeros(0)
    state_names = {s.value: s.name for s in State}
    states: dict[str, int] = {}
    for m in timing:
        name = state_names.get(m["state"], str(m["state"]))
        states[name] = states.get(name, 0) + 1
    return TrialSummary(
        path=log.path,
        complete=log.complete,
        trial=log.metadata.get("trial", {}),
        duration_s=(times[-1] - times[0]) / 1e9 if len(times) > 1 else 0.0,
        cycles=len(timing),
        overruns=sum(bool(m["overrun"]) for m in timing),
        skipped=sum(int(m["skipped"]) for m in timing),
        lateness_us={
            "p50": float(np.percentile(lateness, 50)) if lateness.size else float("nan"),
            "p99": float(np.percentile(lateness, 99)) if lateness.size else float("nan"),
            "max": float(lateness.max()) if lateness.size else float("nan"),
        },
        faults=fault_episodes(log.messages.get("/events", [])),
        start_ns=times[0] if times else 0,
        markers=[e["message"] for e in events if e["name"] == "marker"],
        torque_range_nm={side: _range([m[f"{side}_nm"] for m in shaped]) for side in ("right", "left")},
        imu_frames=len(log.messages.get("/imu/raw", [])),
        log_drops=max((int(m["log_drops"]) for m in timing), default=0),
        states=states,
        problems=list(log.problems),
        log_format=log.format,
    )


def _range(values: list[float | None]) -> tuple[float, float]:
    """(min, max) of the finite values (a non-finite one is logged as null); (0, 0) without any."""
    finite = np.array([v for v in values if v is not None], dtype=float)
    finite = finite[np.isfinite(finite)]
    return (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)


def format_summary(s: TrialSummary) -> str:
    lines = [f"trial       {s.path}" + ("" if s.complete else "  (incomplete: see the problems below)")]
    if s.log_format != 2:
        lines.append(f"format      {s.log_format} (an older log format, read as the current one)")
    for key in ("subject_id", "condition", "speed_m_s", "slope_deg", "notes", "controller", "started_utc"):
        if s.trial.get(key):
            lines.append(f"{key:<11} {s.trial[key]}")
    lines += [
        f"duration    {s.duration_s:.2f} s, {s.cycles} cycles, {s.imu_frames} IMU frames",
        f"timing      lateness p50 {s.lateness_us['p50']:.0f} µs, p99 {s.lateness_us['p99']:.0f} µs, "
        f"max {s.lateness_us['max']:.0f} µs; {s.overruns} overruns, {s.skipped} skipped periods",
        "states      " + ", ".join(f"{k} {v}" for k, v in s.states.items()),
        f"torque      right {s.torque_range_nm['right'][0]:+.2f} … {s.torque_range_nm['right'][1]:+.2f} N·m, "
        f"left {s.torque_range_nm['left'][0]:+.2f} … {s.torque_range_nm['left'][1]:+.2f} N·m",
        f"faults      {len(s.faults)}" + "".join(f"\n  - {f.describe(s.start_ns)}" for f in s.faults),
        f"markers     {len(s.markers)}" + "".join(f"\n  - {m}" for m in s.markers),
        f"log drops   {s.log_drops}",
    ]
    if s.problems:
        lines.append(f"problems    {len(s.problems)} ('hipexo trial recover' writes a clean copy)")
        lines += [f"  - {p}" for p in s.problems]
    return "\n".join(lines)


def catalogue(folder: Path) -> list[dict[str, Any]]:
    """One row per ``*.mcap`` under ``folder``; unreadable files are listed with their problem."""
    rows = []
    for path in sorted(Path(folder).rglob("*.mcap")):
        try:
            s = summarise(read_trial(path))
        except TrialLogError as exc:
            rows.append({"file": str(path), "problem": str(exc)})
            continue
        rows.append(
            {
                "file": str(path),
                "started": s.trial.get("started_utc", ""),
                "subject": s.trial.get("subject_id", ""),
                "condition": s.trial.get("condition", ""),
                "duration_s": round(s.duration_s, 1),
                "cycles": s.cycles,
                "faults": len(s.faults),
                "complete": s.complete,
            }
        )
    return rows
