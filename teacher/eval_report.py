"""The teacher's evaluation report: Markdown with the targets checked, PNG plots; summary.json beside it."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from teacher.evaluation import CHANNELS, JOINT_NAMES, GridResult, lift_j_per_kg_m, summary
from teacher.sim.reference import ReferenceGait
from teacher.standing import StandingResult

LEVEL_SPEEDS = (0.8, 1.0, 1.25, 1.5)
EXTENSION_WINDOWS_PCT = ((0, 20), (85, 100))
FLEXION_WINDOW_PCT = (40, 70)
SLOPE_FALLS_MAX = 0.05
SLOPE_SPEED_ERROR_MAX_M_S = 0.1
UPHILL_PROBE_RATIO = 1.8
"""Issue 17: the probe at +10° at least this many times level at the same speed."""
WORST_CELLS = 3
"""Cells listed as the worst in an every-cell slope target."""
JOINT_CYCLE_SPEED = 1.25


def _fmt(value: float | None, digits: int = 2) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def _pm(mean: float, se: float, digits: int = 1) -> str:
    return f"{_fmt(mean, digits)} ± {_fmt(se, digits)}"


def targets(grid: GridResult, standing: StandingResult | None = None) -> list[tuple[str, str, bool]]:
    """(target, measured, met) for the assisting-teacher targets on level ground, then, when the grid has slopes,
    the slope targets of issue 17 (``slope_targets``)."""
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
    return rows + slope_targets(grid)


def _cells(grid: GridResult) -> list[tuple[float, float]]:
    """Every (speed, slope) the grid has a pairing or a condition for, by speed then slope."""
    return sorted(
        {(p.speed_m_s, p.slope_deg) for p in grid.paired} | {(c.speed_m_s, c.slope_deg) for c in grid.conditions}
    )


def has_slopes(grid: GridResult) -> bool:
    return any(slope != 0.0 for _, slope in _cells(grid))


def _cell(speed: float, slope: float) -> str:
    return f"{speed:g} m/s {slope:+g}°"


def _nan_last(value: float) -> float:
    """Sort key, largest first: NaN (nothing measured) counts as the worst."""
    return math.inf if math.isnan(value) else value


def _every_cell(target: str, cells: list[tuple[str, bool, float, str]]) -> tuple[str, str, bool]:
    """A target every cell must meet; ``cells`` are (label, met, badness, measured), and the measured column names
    how many met and the ``WORST_CELLS`` worst (largest badness, NaN worst of all)."""
    met = sum(ok for _, ok, _, _ in cells)
    worst = sorted(cells, key=lambda c: _nan_last(c[2]), reverse=True)[:WORST_CELLS]
    measured = f"{met}/{len(cells)} cells met; worst {', '.join(f'{label}: {text}' for label, _, _, text in worst)}"
    return target, measured, bool(cells) and met == len(cells)


def _attr(obj, name: str) -> float:
    return float("nan") if obj is None else float(getattr(obj, name))


def _fibre(condition) -> str:
    if condition is None or not np.isfinite(condition.fibre_work_w_per_kg[0]):
        return "–"
    positive, negative = condition.fibre_work_w_per_kg
    return f"{positive:.2f} / {negative:.2f}"


def _peak(condition) -> float:
    return float("nan") if condition is None else condition.exo_peaks.get("right_extension_nm_per_kg", float("nan"))


def _increasing(values: list[float]) -> bool:
    """Strictly increasing, every value measured (a comparison with NaN is false)."""
    return all(b > a for a, b in zip(values[:-1], values[1:], strict=True))


def slope_targets(grid: GridResult) -> list[tuple[str, str, bool]]:
    """(target, measured, met) for the slope targets of issue 17; none for a level-only grid, and each only when
    the grid has the cells it needs. A cell without pairs (every walk fell) or without figures has NaN there, and
    NaN meets no target: every comparison below is written so that NaN is "not met"."""
    if not has_slopes(grid):
        return []
    cells = _cells(grid)
    rows: list[tuple[str, str, bool]] = []

    falls = []
    for s, sl in cells:
        off, on = _attr(grid.condition(s, sl, False), "fall_rate"), _attr(grid.condition(s, sl, True), "fall_rate")
        ok = off <= SLOPE_FALLS_MAX and on <= SLOPE_FALLS_MAX
        falls.append((_cell(s, sl), ok, max(off, on, key=_nan_last), f"{_fmt(100 * off, 0)}/{_fmt(100 * on, 0)} %"))
    rows.append(_every_cell("slopes: falls ≤ 5 % in every cell, exo off and on (off/on)", falls))

    errors = []
    for s, sl in cells:
        off = _attr(grid.condition(s, sl, False), "speed_error_m_s")
        on = _attr(grid.condition(s, sl, True), "speed_error_m_s")
        ok = off <= SLOPE_SPEED_ERROR_MAX_M_S and on <= SLOPE_SPEED_ERROR_MAX_M_S
        errors.append((_cell(s, sl), ok, max(off, on, key=_nan_last), f"{_fmt(off, 3)}/{_fmt(on, 3)} m/s"))
    rows.append(_every_cell("slopes: mean speed error ≤ 0.1 m/s in every cell, exo off and on (off/on)", errors))

    speeds = sorted({s for s, _ in cells})

    def probe(s: float, sl: float) -> float:
        return _attr(grid.condition(s, sl, False), "metabolic_w_per_kg")

    def has_probe(s: float, sl: float) -> bool:
        return grid.condition(s, sl, False) is not None

    uphill = [s for s in speeds if has_probe(s, 0.0) and has_probe(s, 10.0)]
    if uphill:
        ratios = {s: probe(s, 10.0) / probe(s, 0.0) if probe(s, 0.0) else float("nan") for s in uphill}
        rows.append(
            (
                f"slopes: probe at +10° ≥ {UPHILL_PROBE_RATIO:g}× level at the same speed (exo at zero torque)",
                ", ".join(
                    f"{s:g}: {_fmt(probe(s, 10.0))}/{_fmt(probe(s, 0.0))} W/kg = {_fmt(ratios[s])}×" for s in uphill
                ),
                all(probe(s, 10.0) >= UPHILL_PROBE_RATIO * probe(s, 0.0) for s in uphill),
            )
        )
    downhill = [s for s in speeds if has_probe(s, 0.0) and has_probe(s, -5.0)]
    if downhill:
        rows.append(
            (
                "slopes: probe at −5° below level at the same speed (exo at zero torque)",
                ", ".join(f"{s:g}: {_fmt(probe(s, -5.0))} vs {_fmt(probe(s, 0.0))} W/kg" for s in downhill),
                all(probe(s, -5.0) < probe(s, 0.0) for s in downhill),
            )
        )

    def reduction(s: float, sl: float) -> tuple[float, float]:
        p = grid.pairing(s, sl)
        if p is None or p.pairs == 0:  # every walk fell (or no stride): nothing measured, whatever the fields say
            return float("nan"), float("nan")
        return p.reduction_pct, p.reduction_se_pct

    def measured(s: float, sl: float) -> str:
        p = grid.pairing(s, sl)
        pairs = "no pairing" if p is None else f"{p.pairs}/{p.episodes} pairs"
        return f"{_pm(*reduction(s, sl))} % ({pairs})"

    assisted = []
    for s, sl in cells:
        if sl >= 0.0:
            r, se = reduction(s, sl)
            assisted.append((_cell(s, sl), r > 2 * se and r > 0.0, 2 * se - r, measured(s, sl)))
    if assisted:
        rows.append(_every_cell("slopes: paired reduction > 0 by > 2 SE in every cell with slope ≥ 0°", assisted))

    ups = {s: [sl for sl in (5.0, 10.0) if grid.pairing(s, sl)] for s in speeds if grid.pairing(s, 0.0)}
    ups = {s: slopes for s, slopes in ups.items() if slopes}
    if ups:
        rows.append(
            (
                "slopes: paired reduction larger uphill than level at each speed (+5° and +10° vs 0°, means)",
                ", ".join(
                    f"{s:g}: " + " / ".join(f"{sl:+g}° {_fmt(reduction(s, sl)[0], 1)}" for sl in (0.0, *slopes)) + " %"
                    for s, slopes in ups.items()
                ),
                all(reduction(s, sl)[0] > reduction(s, 0.0)[0] for s, slopes in ups.items() for sl in slopes),
            )
        )

    descent = []
    for s, sl in cells:
        if sl < 0.0:
            r, se = reduction(s, sl)
            descent.append((_cell(s, sl), r + 2 * se >= 0.0, -(r + 2 * se), measured(s, sl)))
    if descent:
        rows.append(
            _every_cell(
                "slopes: paired reduction ≥ 0 within 2 SE on descent (reduction + 2 SE ≥ 0, every cell)", descent
            )
        )

    inclines = {
        s: [sl for sl in (0.0, 5.0, 10.0) if grid.condition(s, sl, True) is not None]
        for s in speeds
        if grid.condition(s, 0.0, True) is not None
    }
    inclines = {s: slopes for s, slopes in inclines.items() if len(slopes) > 1}
    if inclines:
        peaks = {s: [_peak(grid.condition(s, sl, True)) for sl in slopes] for s, slopes in inclines.items()}
        rows.append(
            (
                "slopes: peak extension torque grows with incline at each speed (0° → +5° → +10°, exo on, right)",
                ", ".join(f"{s:g}: " + " → ".join(_fmt(v, 3) for v in peaks[s]) + " N·m/kg" for s in inclines),
                all(_increasing(v) for v in peaks.values()),
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
    if has_slopes(grid):
        lines += ["", *_slope_section(grid)]
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


def _probe(condition) -> str:
    mean = _attr(condition, "metabolic_w_per_kg")
    return "–" if math.isnan(mean) else _pm(mean, condition.metabolic_se_w_per_kg, 2)


def _slope_section(grid: GridResult) -> list[str]:
    """The per-slope Markdown: every cell, by slope then speed, and the slope plots named."""
    lines = [
        "## Per slope",
        "",
        "Cells by slope. Falls are episodes out of each side's total; probe mean ± SE over the episodes that did not "
        "fall; reduction per-seed paired, mean ± SE; speed error the mean |mean speed − commanded|; peak extension "
        "the exo's right-side extension peak, exo on; net work the muscles' net mechanical work at the leg joints per "
        "metre walked, exo at zero torque, beside the lift the slope asks (g·sin slope): on level ground the net "
        "work is what the gait loses elsewhere (contacts, joint limits), so uphill it should rise by the lift; fibre "
        "work the muscle fibres' shortening / lengthening work rates, exo at zero torque (the probe charges the first "
        "and credits none of the second). A cell with no pairs (every walk fell) shows –.",
        "",
        "| slope ° | speed m/s | pairs | falls off/on | probe off W/kg | probe on W/kg | reduction % | "
        "speed error off/on m/s | peak extension N·m/kg | net work off J/kg/m (lift) | fibre work off +/− W/kg |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s, sl in sorted(_cells(grid), key=lambda c: (c[1], c[0])):
        p, off, on = grid.pairing(s, sl), grid.condition(s, sl, False), grid.condition(s, sl, True)
        pairs = "–" if p is None else f"{p.pairs}/{p.episodes}"
        falls = "–" if p is None else f"{p.falls_off}/{p.falls_on}"
        reduction = "–" if p is None or p.pairs == 0 else _pm(p.reduction_pct, p.reduction_se_pct)
        lines.append(
            f"| {sl:+g} | {s:g} | {pairs} | {falls} | "
            f"{_probe(off)} | {_probe(on)} | {reduction} | "
            f"{_fmt(_attr(off, 'speed_error_m_s'), 3)}/{_fmt(_attr(on, 'speed_error_m_s'), 3)} | {_fmt(_peak(on), 3)} | "
            f"{_fmt(_attr(off, 'net_work_j_per_kg_m'), 2)} ({lift_j_per_kg_m(sl):+.2f}) | {_fibre(off)} |"
        )
    lines += ["", "Plots per slope:", ""] + [f"- `{name}`: {text}" for name, text in SLOPE_PLOTS.items()]
    return lines


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
    if has_slopes(grid):
        written += _slope_plots(grid, out_dir, reference, plt)
    return written


SLOPE_PLOTS = {
    "slope_reduction.png": "paired metabolic reduction (mean ± SE over seeds) against slope, one line per speed",
    "slope_probe.png": "probe with the exo at zero torque (mean ± SE) against slope, one line per speed; dashed: "
    f"{UPHILL_PROBE_RATIO:g}× level, the +10° target",
    "slope_falls.png": "fall rate per cell (speeds × slopes), exo at zero torque and exo on, numbers in the cells",
    "slope_joint_angles.png": f"right hip, knee and ankle angle over the gait cycle at {JOINT_CYCLE_SPEED:g} m/s, "
    "exo at zero torque, one line per slope",
}


def _slope_plots(grid: GridResult, out_dir: Path, reference: ReferenceGait, plt) -> list[Path]:
    """The per-slope plots (``SLOPE_PLOTS``); cells with nothing measured leave gaps (NaN), never fail."""
    cells = _cells(grid)
    speeds = sorted({s for s, _ in cells})
    slopes = sorted({sl for _, sl in cells})
    written = []
    offsets = np.linspace(-0.3, 0.3, len(speeds)) if len(speeds) > 1 else np.zeros(1)  # keep error bars apart

    fig, ax = plt.subplots(figsize=(6, 3.8))
    for s, dx in zip(speeds, offsets, strict=True):
        pairs = [grid.pairing(s, sl) for sl in slopes]
        ax.errorbar(
            np.array(slopes) + dx,
            [_attr(p, "reduction_pct") for p in pairs],
            yerr=[_attr(p, "reduction_se_pct") for p in pairs],
            marker="o",
            capsize=3,
            label=f"{s:g} m/s",
        )
    ax.axhline(0, color="0.7", lw=0.8)
    ax.set_xticks(slopes)
    ax.set_xlabel("slope (°, + uphill)")
    ax.set_ylabel("metabolic reduction, exo on vs zero torque (%)")
    ax.set_title("paired reduction by slope, mean ± SE over seeds", fontsize=9)
    ax.legend(fontsize=7, title="speed", title_fontsize=7)
    fig.tight_layout()
    written.append(_save(fig, out_dir / "slope_reduction.png"))

    fig, ax = plt.subplots(figsize=(6, 3.8))
    marked = False
    for s, dx in zip(speeds, offsets, strict=True):
        conditions = [grid.condition(s, sl, False) for sl in slopes]
        (line, *_) = ax.errorbar(
            np.array(slopes) + dx,
            [_attr(c, "metabolic_w_per_kg") for c in conditions],
            yerr=[_attr(c, "metabolic_se_w_per_kg") for c in conditions],
            marker="o",
            capsize=3,
            label=f"{s:g} m/s",
        )
        level = _attr(grid.condition(s, 0.0, False), "metabolic_w_per_kg")
        if 10.0 in slopes and math.isfinite(level):
            ax.hlines(
                UPHILL_PROBE_RATIO * level,
                8.0,
                12.0,
                colors=line.get_color(),
                linestyles="--",
                label="_nolegend_" if marked else f"{UPHILL_PROBE_RATIO:g}× level (target at +10°)",
            )
            marked = True
    ax.set_xticks(slopes)
    ax.set_xlabel("slope (°, + uphill)")
    ax.set_ylabel("probe, exo at zero torque (W/kg)")
    ax.set_title("metabolic probe by slope, mean ± SE over episodes that did not fall", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    written.append(_save(fig, out_dir / "slope_probe.png"))

    fig, axes = plt.subplots(1, 2, figsize=(10, 0.6 * len(speeds) + 2.2), sharey=True)
    for ax, exo in zip(axes, (False, True), strict=True):
        rates = np.array([[100 * _attr(grid.condition(s, sl, exo), "fall_rate") for sl in slopes] for s in speeds])
        image = ax.imshow(np.ma.masked_invalid(rates), cmap="Reds", vmin=0, vmax=100, origin="lower", aspect="auto")
        for i, j in np.ndindex(rates.shape):
            v = rates[i, j]
            ax.text(j, i, _fmt(v, 0), ha="center", va="center", fontsize=8, color="white" if v > 60 else "black")
        ax.set_xticks(range(len(slopes)), [f"{sl:+g}" for sl in slopes])
        ax.set_yticks(range(len(speeds)), [f"{s:g}" for s in speeds])
        ax.set_xlabel("slope (°)")
        ax.set_title(f"falls, {'exo on' if exo else 'exo at zero torque'} (% of episodes)", fontsize=9)
    axes[0].set_ylabel("speed (m/s)")
    fig.colorbar(image, ax=axes, label="falls (% of episodes; target ≤ 5)")
    written.append(_save(fig, out_dir / "slope_falls.png"))

    speed = JOINT_CYCLE_SPEED if JOINT_CYCLE_SPEED in speeds else speeds[len(speeds) // 2]
    gc = np.arange(101)
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4), sharex=True)
    ref = reference.curves(speed)
    for k, (ax, joint) in enumerate(zip(axes, JOINT_NAMES, strict=True)):
        ax.plot(gc, ref[:, k], "k:", lw=1, label="Fukuchi 2018, level")
        for sl in slopes:
            c = grid.condition(speed, sl, False)
            if c is not None and "right" in c.mean_cycle:
                ax.plot(gc, np.array(c.mean_cycle["right"])[:, k], label=f"{sl:+g}°")
        ax.set_title(f"right {joint} angle", fontsize=9)
        ax.set_xlabel("% gait cycle (right heel strike to heel strike)")
        ax.set_ylabel("angle (deg, dataset signs)")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="center right", fontsize=7, title="slope")
    fig.suptitle(f"{speed:g} m/s, exo at zero torque, mean of whole strides per slope", fontsize=10)
    fig.tight_layout(rect=(0, 0, 0.88, 1))
    written.append(_save(fig, out_dir / "slope_joint_angles.png"))
    return written


def _save(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
