"""The teacher's evaluation report: Markdown with the targets checked, PNG plots; summary.json beside it."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from teacher.evaluation import CHANNELS, JOINT_NAMES, GridResult, summary
from teacher.sim.reference import ReferenceGait
from teacher.standing import StandingResult

LEVEL_SPEEDS = (0.8, 1.0, 1.25, 1.5)
EXTENSION_WINDOWS_PCT = ((0, 20), (85, 100))
FLEXION_WINDOW_PCT = (40, 70)


def _fmt(value: float | None, digits: int = 2) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def _pm(mean: float, se: float, digits: int = 1) -> str:
    return f"{_fmt(mean, digits)} ± {_fmt(se, digits)}"


def targets(grid: GridResult, standing: StandingResult | None = None) -> list[tuple[str, str, bool]]:
    """(target, measured, met) for the assisting-teacher targets on level ground."""
    level = [s for s in LEVEL_SPEEDS if grid.pairing(s, 0.0)]
    rows: list[tuple[str, str, bool]] = []
    falls = {s: (grid.condition(s, 0.0, False).fall_rate, grid.condition(s, 0.0, True).fall_rate) for s in level}
    worst = max((max(f) for f in falls.values()), default=float("nan"))
    rows.append(
        (
            "falls ≤ 5 % at every level speed, exo off and on",
            ", ".join(f"{s:g}: {100 * a:.0f}/{100 * b:.0f} %" for s, (a, b) in falls.items()),
            worst <= 0.05,
        )
    )
    off = grid.condition(1.25, 0.0, False)
    if off is not None:
        rows.append(
            (
                "probe 3–6 W/kg (1.25 m/s level, exo at zero torque)",
                f"{_fmt(off.metabolic_w_per_kg)} W/kg",
                3.0 <= off.metabolic_w_per_kg <= 6.0,
            )
        )
        rows.append(("mean activation ≤ 0.12 (same)", _fmt(off.mean_activation, 3), off.mean_activation <= 0.12))
    if standing is not None:
        rows.append(
            (
                "quiet standing 1.0–2.0 W/kg (prior holding the standing pose, hand on a rail)",
                f"{_fmt(standing.metabolic_w_per_kg)} W/kg, activation {_fmt(standing.mean_activation, 3)}, "
                f"legs carry {100 * standing.legs_carry:.0f} % of body weight",
                1.0 <= standing.metabolic_w_per_kg <= 2.0,
            )
        )
    hips = {s: grid.condition(s, 0.0, False) for s in level}
    hip_ok = all(
        c.angle_r.get("right_hip", 0.0) >= 0.95 and c.angle_rmse_deg.get("right_hip", 99.0) <= 5.0
        for c in hips.values()
    )
    rows.append(
        (
            "hip angle vs Fukuchi r ≥ 0.95 and RMSE ≤ 5° at every level speed (exo off, right, whole strides)",
            ", ".join(
                f"{s:g}: {_fmt(c.angle_r.get('right_hip'))}/{_fmt(c.angle_rmse_deg.get('right_hip'), 1)}°"
                for s, c in hips.items()
            ),
            bool(hips) and hip_ok,
        )
    )
    paired = grid.pairing(1.25, 0.0)
    if paired is not None:
        rows.append(
            (
                "metabolic reduction ≥ 5 % and > 2 SE (1.25 m/s level, paired)",
                f"{_pm(paired.reduction_pct, paired.reduction_se_pct)} %",
                paired.reduction_pct >= 5.0 and paired.reduction_pct > 2 * paired.reduction_se_pct,
            )
        )
    reductions = [grid.pairing(s, 0.0).reduction_pct for s in level]
    rows.append(
        (
            "reduction > 0 at every level speed and growing with speed",
            ", ".join(f"{s:g}: {_fmt(r, 1)} %" for s, r in zip(level, reductions, strict=True)),
            bool(reductions) and all(r > 0 for r in reductions) and all(np.diff(reductions) > 0),
        )
    )
    on = grid.condition(1.25, 0.0, True)
    if on is not None and on.exo_peaks:
        p = on.exo_peaks
        ext, flex = p["right_extension_at_pct"], p["right_flexion_at_pct"]
        sizes_ok = all(0.10 <= p[f"right_{k}_nm_per_kg"] <= 0.30 for k in ("extension", "flexion"))
        timing_ok = any(a <= ext <= b for a, b in EXTENSION_WINDOWS_PCT) and (
            FLEXION_WINDOW_PCT[0] <= flex <= FLEXION_WINDOW_PCT[1]
        )
        rows.append(
            (
                "profile: peaks 0.10–0.30 N·m/kg, extension at 0–20 or 85–100 % GC, flexion at 40–70 % GC (1.25 m/s)",
                f"extension {p['right_extension_nm_per_kg']:.3f} at {ext:.0f} %, "
                f"flexion {p['right_flexion_nm_per_kg']:.3f} at {flex:.0f} %",
                sizes_ok and timing_ok,
            )
        )
    return rows


def write_report(
    grid: GridResult, out_dir: Path, meta: dict, reference: ReferenceGait, standing: StandingResult | None = None
) -> Path:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    machine = summary(grid, meta["total_steps"])
    if standing is not None:
        machine["standing_w_kg"] = round(standing.metabolic_w_per_kg, 4)
    (out_dir / "summary.json").write_text(json.dumps(machine, indent=1) + "\n")
    plots = _plots(grid, out_dir, reference)
    lines = [
        f"# Teacher evaluation: {meta['run_dir']}",
        "",
        f"Checkpoint: {meta['total_steps']} env steps, {meta['wall_h']:.2f} h of training, stage `{meta['stage']}`, "
        f"sha256 `{meta['hash'][:16]}`. Grid: {meta['episodes']} seeded episodes of {meta['seconds']:g} s per "
        "condition, each seed walked with the exo on and worn at zero torque (paired), deterministic actions, "
        "no root support. Strides: heel strikes with a refractory period, whole strides only. Figures are mean "
        "± SE over episodes; reductions are per-seed paired. Machine-readable: `summary.json`.",
        f"Command: `{meta['command']}`",
        "",
        "## Targets",
        "",
        "| target | measured | met |",
        "|---|---|---|",
        *[f"| {t} | {m} | {'yes' if ok else '**no**'} |" for t, m, ok in targets(grid, standing)],
        "",
        "## Paired: exo on vs exo worn at zero torque",
        "",
        "| speed m/s | slope ° | pairs | falls off/on | probe off W/kg | probe on W/kg | reduction % | activation "
        "reduction % | positive joint power reduction % |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for p in grid.paired:
        off, on = grid.condition(p.speed_m_s, p.slope_deg, False), grid.condition(p.speed_m_s, p.slope_deg, True)
        lines.append(
            f"| {p.speed_m_s:g} | {p.slope_deg:+g} | {p.pairs}/{p.episodes} | {p.falls_off}/{p.falls_on} | "
            f"{_pm(off.metabolic_w_per_kg, off.metabolic_se_w_per_kg, 2)} | "
            f"{_pm(on.metabolic_w_per_kg, on.metabolic_se_w_per_kg, 2)} | "
            f"{_pm(p.reduction_pct, p.reduction_se_pct)} | "
            f"{_pm(p.activation_reduction_pct, p.activation_reduction_se_pct)} | "
            f"{_pm(p.positive_power_reduction_pct, p.positive_power_reduction_se_pct)} |"
        )
    lines += [
        "",
        "## Every condition (right leg, whole strides, against Fukuchi 2018 at the same speed)",
        "",
        "| speed m/s | slope ° | exo | falls | speed err m/s | strides | strikes/stride | activation | positive power "
        "W/kg | hip r / RMSE ° | knee r / RMSE ° | ankle r / RMSE ° | hip moment r | knee moment r | ankle moment r |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in grid.conditions:
        joints = " | ".join(
            f"{_fmt(r.angle_r.get(f'right_{j}'))} / {_fmt(r.angle_rmse_deg.get(f'right_{j}'), 1)}" for j in JOINT_NAMES
        )
        moments = " | ".join(_fmt(r.moment_r.get(f"right_{j}")) for j in JOINT_NAMES)
        lines.append(
            f"| {r.speed_m_s:g} | {r.slope_deg:+g} | {'on' if r.exo else 'off'} | {100 * r.fall_rate:.0f} % | "
            f"{r.speed_error_m_s:.3f} | {r.strides} | {_fmt(r.strikes_per_stride)} | {_fmt(r.mean_activation, 3)} | "
            f"{_fmt(r.positive_power_w_per_kg)} | {joints} | {moments} |"
        )
    lines += ["", "## Exo torque peaks (exo on, N·m/kg at % of each side's own gait cycle)", ""]
    lines += [
        "| speed m/s | slope ° | side | extension peak | at % | flexion peak | at % |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in grid.conditions:
        for side in ("right", "left"):
            if r.exo and f"{side}_extension_nm_per_kg" in r.exo_peaks:
                p = {k.removeprefix(f"{side}_"): v for k, v in r.exo_peaks.items() if k.startswith(side)}
                lines.append(
                    f"| {r.speed_m_s:g} | {r.slope_deg:+g} | {side} | {p['extension_nm_per_kg']:.3f} | "
                    f"{p['extension_at_pct']:.0f} | {p['flexion_nm_per_kg']:.3f} | {p['flexion_at_pct']:.0f} |"
                )
    lines += ["", "## Plots", ""] + [f"![{p.stem}]({p.name})" for p in plots]
    path = out_dir / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def _plots(grid: GridResult, out_dir: Path, reference: ReferenceGait) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    gc = np.arange(101)
    levels = sorted({c.speed_m_s for c in grid.conditions if c.slope_deg == 0.0})
    speed = 1.25 if 1.25 in levels else (levels[0] if levels else None)
    off = grid.condition(speed, 0.0, False) if speed is not None else None
    if off is not None and "right" in off.mean_cycle:
        cycle = np.array(off.mean_cycle["right"])
        ref = reference.curves(speed)
        fig, axes = plt.subplots(2, 3, figsize=(12, 5.5), sharex=True)
        for k in range(6):
            ax = axes[k // 3, k % 3]
            ax.plot(gc, ref[:, k], "k--", label="Fukuchi 2018")
            ax.plot(gc, cycle[:, k], "tab:green", label="teacher, exo at zero torque")
            unit = "deg" if k < 3 else "N·m/kg"
            ax.set_title(f"{CHANNELS[k].replace('_', ' ')} ({unit})", fontsize=9)
            if k >= 3:
                ax.set_xlabel("% gait cycle (right heel strike to heel strike)")
        axes[0, 0].legend(fontsize=7)
        fig.suptitle(f"{speed:g} m/s level, mean of whole strides; moments are net (muscles + exo), dataset signs")
        fig.tight_layout()
        written.append(_save(fig, out_dir / "joints_vs_reference.png"))
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
    for r in grid.conditions:
        if r.exo and "right" in r.mean_cycle:
            for ax, show, label in (
                (axes[0], r.slope_deg == 0.0, f"{r.speed_m_s:g} m/s"),
                (axes[1], r.speed_m_s == 1.25, f"{r.slope_deg:+g}°"),
            ):
                if show:
                    (line,) = ax.plot(gc, np.array(r.mean_cycle["right"])[:, 6], label=label)
                    if "left" in r.mean_cycle:
                        ax.plot(gc, np.array(r.mean_cycle["left"])[:, 6], color=line.get_color(), ls="--", lw=0.9)
    for ax, title in zip(axes, ("by speed (level)", "by slope (1.25 m/s)"), strict=True):
        ax.axhline(0, color="0.7", lw=0.8)
        ax.set_title(f"exo torque {title}; right solid, left dashed", fontsize=9)
        ax.set_xlabel("% of each side's gait cycle")
        ax.set_ylabel("N·m/kg (+ flexion)")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    fig.tight_layout()
    written.append(_save(fig, out_dir / "exo_torque_profiles.png"))
    level = [p for p in grid.paired if p.slope_deg == 0.0]
    if level:
        fig, ax = plt.subplots(figsize=(5, 3.2))
        x = np.array([p.speed_m_s for p in level])
        ax.errorbar(
            x,
            [p.reduction_pct for p in level],
            yerr=[p.reduction_se_pct for p in level],
            marker="o",
            capsize=3,
            label="probe (metabolic)",
        )
        ax.errorbar(
            x + 0.01,
            [p.activation_reduction_pct for p in level],
            yerr=[p.activation_reduction_se_pct for p in level],
            marker="s",
            capsize=3,
            label="mean activation",
        )
        ax.axhline(0, color="0.7", lw=0.8)
        ax.set_xlabel("speed (m/s), level")
        ax.set_ylabel("reduction, exo on vs zero torque (%)")
        ax.set_title("paired reduction, mean ± SE over seeds", fontsize=9)
        ax.legend(fontsize=7)
        fig.tight_layout()
        written.append(_save(fig, out_dir / "metabolic_reduction.png"))
    return written


def _save(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
