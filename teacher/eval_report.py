"""The teacher's evaluation report: Markdown with the targets checked, PNG plots, and JSON."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from teacher.evaluation import JOINT_NAMES, ConditionResult, reduction_pct
from teacher.sim.reference import ReferenceGait

TARGET_SLOPES = (-5.0, 0.0, 5.0, 10.0)
EARLY_STANCE_PCT = (0, 30)
TOE_OFF_PCT = (45, 75)


def _fmt(value: float, digits: int = 2) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def targets(results: list[ConditionResult]) -> list[tuple[str, str, bool]]:
    """(target, measured, met) for the teacher issue's targets."""
    core = [r for r in results if 0.8 <= r.speed_m_s <= 1.5 and r.slope_deg in TARGET_SLOPES]
    worst_fall = max((r.fall_rate for r in core), default=float("nan"))
    speed_err = float(np.mean([r.speed_error_m_s for r in results])) if results else float("nan")
    level = [r for r in results if r.slope_deg == 0.0 and not r.exo]
    hip_r = [r.angle_r.get("hip", float("nan")) for r in level]
    hip_r_mean = float(np.nanmean(hip_r)) if hip_r and not np.all(np.isnan(hip_r)) else float("nan")
    reduction = reduction_pct(results, 1.25, 0.0)
    on = next((r for r in results if r.speed_m_s == 1.25 and r.slope_deg == 0.0 and r.exo), None)
    timing_ok = False
    timing = "no gait cycles"
    if on is not None and on.exo_peaks:
        ext, flex = on.exo_peaks["right_extension_at_pct"], on.exo_peaks["right_flexion_at_pct"]
        timing_ok = EARLY_STANCE_PCT[0] <= ext <= EARLY_STANCE_PCT[1] and TOE_OFF_PCT[0] <= flex <= TOE_OFF_PCT[1]
        timing = f"extension peak at {ext:.0f} % GC, flexion peak at {flex:.0f} % GC"
    return [
        ("fall rate ≤ 5 % (0.8–1.5 m/s, −5…+10°, worst condition)", f"{100 * worst_fall:.0f} %", worst_fall <= 0.05),
        ("mean speed error ≤ 0.1 m/s", f"{speed_err:.3f} m/s", speed_err <= 0.1),
        ("hip angle r ≥ 0.9 vs Fukuchi (level, mean over speeds)", _fmt(hip_r_mean), hip_r_mean >= 0.9),
        ("metabolic reduction ≥ 3 % (1.25 m/s level, exo on vs off)", f"{_fmt(reduction, 1)} %", reduction >= 3.0),
        ("extension in early stance, flexion around toe-off (1.25 m/s level)", timing, timing_ok),
    ]


def write_report(results: list[ConditionResult], out_dir: Path, meta: dict, reference: ReferenceGait) -> Path:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    plots = _plots(results, out_dir, reference)
    lines = [
        f"# Teacher evaluation: {meta['run_dir']}",
        "",
        f"Checkpoint: {meta['total_steps']} env steps, {meta['wall_h']:.2f} h of training, stage `{meta['stage']}`, "
        f"sha256 `{meta['hash'][:16]}`. Grid: {meta['episodes']} seeded episodes of {meta['seconds']:g} s per "
        "condition, deterministic actions, no root support.",
        f"Command: `{meta['command']}`",
        "",
        "## Targets",
        "",
        "| target | measured | met |",
        "|---|---|---|",
        *[f"| {t} | {m} | {'yes' if ok else '**no**'} |" for t, m, ok in targets(results)],
        "",
        "## Every condition",
        "",
        "| speed m/s | slope ° | exo | falls | speed err m/s | hip r | hip RMSE ° | knee r | ankle r | hip moment r "
        "| metabolic W/kg | mean activation | cycles |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.speed_m_s:g} | {r.slope_deg:+g} | {'on' if r.exo else 'off'} | {100 * r.fall_rate:.0f} % | "
            f"{r.speed_error_m_s:.3f} | {_fmt(r.angle_r.get('hip', float('nan')))} | "
            f"{_fmt(r.angle_rmse_deg.get('hip', float('nan')), 1)} | {_fmt(r.angle_r.get('knee', float('nan')))} | "
            f"{_fmt(r.angle_r.get('ankle', float('nan')))} | {_fmt(r.hip_moment_r)} | {r.metabolic_w_per_kg:.2f} | "
            f"{r.mean_activation:.3f} | {r.cycles} |"
        )
    lines += [
        "",
        "## Metabolic cost, exo on vs off",
        "",
        "| speed m/s | slope ° | off W/kg | on W/kg | reduction |",
        "|---|---|---|---|---|",
    ]
    pairs = sorted({(r.speed_m_s, r.slope_deg) for r in results})
    by = {(r.speed_m_s, r.slope_deg, r.exo): r for r in results}
    for speed, slope in pairs:
        off, on = by.get((speed, slope, False)), by.get((speed, slope, True))
        if off and on:
            lines.append(
                f"| {speed:g} | {slope:+g} | {off.metabolic_w_per_kg:.2f} | {on.metabolic_w_per_kg:.2f} | "
                f"{_fmt(reduction_pct(results, speed, slope), 1)} % |"
            )
    lines += ["", "## Exo torque peaks (exo on, N·m/kg at % of each side's own gait cycle)", ""]
    lines += [
        "| speed m/s | slope ° | side | extension peak | at % | flexion peak | at % |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
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


def _plots(results: list[ConditionResult], out_dir: Path, reference: ReferenceGait) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    gc = np.arange(101)
    level = {(r.speed_m_s, r.exo): r for r in results if r.slope_deg == 0.0}
    speed = 1.25 if (1.25, False) in level else (sorted(level)[0][0] if level else None)
    if speed is not None and level.get((speed, False)) and level[(speed, False)].mean_cycle:
        cycle = np.array(level[(speed, False)].mean_cycle)
        ref = reference.curves(speed)
        fig, axes = plt.subplots(1, 4, figsize=(13, 3))
        for k, name in enumerate((*JOINT_NAMES, "hip moment")):
            axes[k].plot(gc, ref[:, k], "k--", label="Fukuchi 2018")
            axes[k].plot(gc, cycle[:, k], "tab:green", label="teacher (exo off)")
            axes[k].set_title(f"{name} ({'N·m/kg' if k == 3 else 'deg'})")
            axes[k].set_xlabel("% gait cycle")
        axes[0].legend(fontsize=7)
        fig.suptitle(f"{speed:g} m/s, level")
        fig.tight_layout()
        written.append(_save(fig, out_dir / "joint_angles_vs_reference.png"))
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
    for r in results:
        if r.exo and r.mean_cycle:
            cycle = np.array(r.mean_cycle)
            for ax, show, label in (
                (axes[0], r.slope_deg == 0.0, f"{r.speed_m_s:g} m/s"),
                (axes[1], r.speed_m_s == 1.25, f"{r.slope_deg:+g}°"),
            ):
                if show:
                    (line,) = ax.plot(gc, cycle[:, 4], label=label)
                    ax.plot(gc, cycle[:, 5], color=line.get_color(), ls="--", lw=0.9)
    for ax, title in zip(axes, ("by speed (level)", "by slope (1.25 m/s)"), strict=True):
        ax.axhline(0, color="0.7", lw=0.8)
        ax.set_title(f"exo torque {title}; right solid, left dashed", fontsize=9)
        ax.set_xlabel("% gait cycle")
        ax.set_ylabel("N·m/kg (+ flexion)")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    fig.tight_layout()
    written.append(_save(fig, out_dir / "exo_torque_profiles.png"))
    pairs = sorted({r.speed_m_s for r in results if r.slope_deg == 0.0})
    by = {(r.speed_m_s, r.slope_deg, r.exo): r for r in results}
    if pairs:
        fig, ax = plt.subplots(figsize=(5, 3))
        x = np.arange(len(pairs))
        for offset, exo in ((-0.2, False), (0.2, True)):
            values = [by[(s, 0.0, exo)].metabolic_w_per_kg if (s, 0.0, exo) in by else np.nan for s in pairs]
            ax.bar(x + offset, values, width=0.4, label=f"exo {'on' if exo else 'off'}")
        ax.set_xticks(x, [f"{s:g} m/s" for s in pairs])
        ax.set_ylabel("metabolic probe W/kg")
        ax.set_title("level walking")
        ax.legend(fontsize=7)
        fig.tight_layout()
        written.append(_save(fig, out_dir / "metabolic_cost.png"))
    return written


def _save(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
