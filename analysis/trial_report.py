"""``hipexo trial report``: any trial log → gait cycles, torque over the cycle per side, timing, faults, and
agreement with another trial or a simulated run. Markdown with PNG plots, and the figures as JSON."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from analysis.gait import GaitProfile, agreement, leg_disagreement
from analysis.summary import summarise
from analysis.trace import SIDES, TorqueTrace, load_trace
from firmware_bridge.trial.reader import read_trial


def _side_figures(profile: GaitProfile) -> dict:
    flexion, extension = profile.peak_positive, profile.peak_negative
    return {
        "strides": profile.strides,
        "stride_s": profile.stride_s,
        "peak_flexion_nm_per_kg": flexion[0],
        "peak_flexion_pct": flexion[1],
        "peak_extension_nm_per_kg": extension[0],
        "peak_extension_pct": extension[1],
    }


def analyse_trial(trial: Path, compare: Path | None = None) -> dict:
    log = read_trial(trial)
    summary = summarise(log)
    trace = TorqueTrace.from_trial(log)
    profiles = trace.profiles()
    figures = {
        "trial": str(trial),
        "complete": summary.complete,
        "metadata": summary.trial,
        "duration_s": summary.duration_s,
        "cycles": summary.cycles,
        "overruns": summary.overruns,
        "skipped": summary.skipped,
        "lateness_us": summary.lateness_us,
        "faults": [f.as_dict(summary.start_ns) for f in summary.faults],
        "problems": summary.problems,
        "markers": summary.markers,
        "body_mass_kg": trace.body_mass_kg,
        "sides": {name: _side_figures(p) for name, p in zip(SIDES, profiles, strict=True)},
        "leg_disagreement": leg_disagreement(*profiles).as_dict(),
        "profiles": [p.mean.tolist() for p in profiles],
        "profiles_std": [p.std.tolist() for p in profiles],
    }
    if compare is not None:
        other = load_trace(compare).profiles()
        figures["comparison"] = {
            "with": str(compare),
            "profiles": [p.mean.tolist() for p in other],
            **{
                name: dict(zip(("r", "rmse_nm_per_kg"), agreement(a, b), strict=True))
                for name, a, b in zip(SIDES, profiles, other, strict=True)
            },
        }
    return figures


def leg_warning(figures: dict) -> str | None:
    """One line when the two legs' strides disagree beyond the limit, else None."""
    d = figures["leg_disagreement"]
    if not d["flagged"]:
        return None
    r, left = figures["sides"]["right"], figures["sides"]["left"]
    return (
        f"WARNING: the legs disagree: right {r['strides']} strides of {r['stride_s']:.2f} s, left {left['strides']} "
        f"of {left['stride_s']:.2f} s (counts {100 * d['strides']:.0f} % apart, stride times "
        f"{100 * d['stride_s']:.0f} %; limit {100 * d['limit']:.0f} %): one walker's legs take the same strides, "
        "so check the thigh IMUs (ids, mounting, signal) and the stride detection"
    )


def write_trial_report(figures: dict, out_dir: Path) -> Path:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    plot = _plot(figures, out_dir / "torque_over_gait_cycle.png")
    s, lt = figures["sides"], figures["lateness_us"]
    meta = ", ".join(
        f"{k} {v}" for k, v in figures["metadata"].items() if k in ("subject_id", "condition", "controller")
    )
    lines = [
        f"# Trial report: `{Path(figures['trial']).name}`",
        "",
        f"- {meta}; {figures['duration_s']:.1f} s, {figures['cycles']} cycles"
        + ("" if figures["complete"] else " (file incomplete: data up to the damage, listed below)"),
        f"- Timing: lateness p50 {lt['p50']:.0f} µs, p99 {lt['p99']:.0f} µs, max {lt['max']:.0f} µs; "
        f"{figures['overruns']} overruns, {figures['skipped']} skipped periods",
        f"- Faults ({len(figures['faults'])}): " + ("none" if not figures["faults"] else ""),
        *(f"  - {f['text']}" for f in figures["faults"]),
        *(f"- Skipped (damaged or cut off): {p}" for p in figures["problems"]),
        f"- Markers: {', '.join(figures['markers']) or 'none'}",
        "",
        "Strides from each thigh's gyroscope (heel strike near the end of swing, the baseline controller's detector); "
        f"torque is the shaped command per kg of body mass ({figures['body_mass_kg']:g} kg), + flexion.",
        "",
        "| side | strides | stride (s) | peak flexion (N·m/kg @ % cycle) | peak extension (N·m/kg @ % cycle) |",
        "|---|---|---|---|---|",
    ]
    for name in SIDES:
        f = s[name]
        lines.append(
            f"| {name} | {f['strides']} | {f['stride_s']:.2f} | {f['peak_flexion_nm_per_kg']:.3f} @ {f['peak_flexion_pct']:.0f} | "
            f"{f['peak_extension_nm_per_kg']:.3f} @ {f['peak_extension_pct']:.0f} |"
        )
    warning = leg_warning(figures)
    if warning:
        lines += ["", f"**{warning}**"]
    if "comparison" in figures:
        c = figures["comparison"]
        lines += [
            "",
            f"Compared with `{c['with']}` (torque over the gait cycle):",
            "",
            "| side | r | RMSE (N·m/kg) |",
            "|---|---|---|",
            *(f"| {name} | {c[name]['r']:.3f} | {c[name]['rmse_nm_per_kg']:.4f} |" for name in SIDES),
        ]
    lines += ["", f"![torque over the gait cycle]({plot.name})"]
    path = out_dir / "trial_report.md"
    path.write_text("\n".join(lines) + "\n")
    (out_dir / "trial_report.json").write_text(json.dumps(figures, indent=1, default=float))
    return path


def _plot(figures: dict, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = np.arange(len(figures["profiles"][0]))
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.2), sharey=True)
    for side, ax in enumerate(axes):
        mean, std = np.array(figures["profiles"][side]), np.array(figures["profiles_std"][side])
        ax.plot(x, mean, color="tab:red", label="this trial")
        ax.fill_between(x, mean - std, mean + std, color="tab:red", alpha=0.2)
        if "comparison" in figures:
            ax.plot(x, figures["comparison"]["profiles"][side], color="0.3", ls="--", label="comparison")
        ax.axhline(0, color="0.7", lw=0.8)
        ax.set_title(SIDES[side])
        ax.set_xlabel("% gait cycle")
    axes[0].set_ylabel("hip torque (N·m/kg, + flexion)")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
