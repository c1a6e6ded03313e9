"""The distillation eval report: Markdown tables with the targets, PNG plots, and the figures as JSON."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

TARGET_R, TARGET_RMSE, TARGET_RETAINED = 0.95, 0.02, 80.0


def headline(figures: dict) -> dict:
    """The held-out means the targets are judged on; they also go into the bundle's provenance."""
    held = [c for c in figures["conditions"] if c["held_out"]]
    closed = [c["closed_loop"] for c in held]
    return {
        "held_out_conditions": [[c["speed_m_s"], c["slope_deg"]] for c in held],
        "r": float(np.nanmean([c["r"] for c in held])),
        "rmse_nm_per_kg": float(np.nanmean([c["rmse_nm_per_kg"] for c in held])),
        "peak_timing_error_pct": float(np.nanmean([c["peak_timing_error_pct"] for c in held])),
        "closed_loop_student_falls": sum(c["student_fell"] for c in closed),
        "metabolic_retained_pct": float(np.nanmean([c["retained_pct"] for c in closed])),
    }


def summary(figures: dict) -> dict:
    """The machine-readable headline (``eval/summary.json``): held-out tracking, closed-loop retention at the seen
    conditions (the middle seen speed: ``retained_pct`` at the middle seen slope, level for the shipped configs, and
    per seen slope), and the left/right agreement of the torque over each side's own gait cycle on the real
    recording."""
    top = headline(figures) if any(c["held_out"] for c in figures["conditions"]) else {}
    recordings = figures.get("recordings", [])
    seen = sorted((c for c in figures["conditions"] if not c["held_out"]), key=lambda c: c["slope_deg"])
    middle = seen[len(seen) // 2] if seen else None
    return {
        "held_out_r": round(top.get("r", float("nan")), 5),
        "held_out_rmse_nm_kg": round(top.get("rmse_nm_per_kg", float("nan")), 5),
        "retained_pct": round(middle["closed_loop"]["retained_pct"], 3) if middle else float("nan"),
        "retained_pct_by_slope": {f"{c['slope_deg']:+g}": round(c["closed_loop"]["retained_pct"], 3) for c in seen},
        "real_imu_lr_r": round(recordings[0]["left_right_r"], 5) if recordings else float("nan"),
    }


def _walk_range(condition: dict) -> str:
    walks = condition["walks_r"]
    return f"{np.nanmin(walks):.3f}–{np.nanmax(walks):.3f}" if len(walks) > 1 else "–"


def write_eval_report(figures: dict, out_dir: Path, provenance: dict) -> Path:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "eval.json").write_text(json.dumps({**figures, "provenance": provenance}, indent=1, default=float))
    (out_dir / "summary.json").write_text(json.dumps(summary(figures), indent=1) + "\n")
    plots = _plots(figures, out_dir)
    held = [c for c in figures["conditions"] if c["held_out"]]
    lines = [
        "# Student evaluation",
        "",
        f"Teacher `{provenance.get('teacher')}` ({provenance.get('teacher_steps')} steps, sha256 "
        f"{str(provenance.get('teacher_sha256', ''))[:16]}…). Torque is the shaped command per kg (the device's "
        "shaping chain on both commands). Per condition, r is the mean and RMSE the pooled value over "
        f"{figures['tracking_episodes']} teacher walk(s) with their own seeds; the range is each walk's r.",
        "",
        f"Targets on held-out conditions: r ≥ {TARGET_R}, RMSE ≤ {TARGET_RMSE} N·m/kg, closed-loop metabolic "
        f"reduction ≥ {TARGET_RETAINED:g} % of the teacher's.",
        "",
        "| speed (m/s) | slope (°) | held out | r | r range over walks | RMSE (N·m/kg) | flexion-peak timing error "
        "(% cycle) | teacher peak (N·m/kg) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for c in figures["conditions"]:
        lines.append(
            f"| {c['speed_m_s']:g} | {c['slope_deg']:+g} | {'yes' if c['held_out'] else ''} | {c['r']:.3f} | "
            f"{_walk_range(c)} | {c['rmse_nm_per_kg']:.4f} | {c['peak_timing_error_pct']:.1f} | {c['teacher_peak_nm_per_kg']:.3f} |"
        )
    if held:
        top = headline(figures)
        r, rmse = top["r"], top["rmse_nm_per_kg"]
        lines += [
            "",
            f"Held-out mean: r {r:.3f} ({'meets' if r >= TARGET_R else 'misses'} the target), RMSE {rmse:.4f} N·m/kg "
            f"({'meets' if rmse <= TARGET_RMSE else 'misses'}).",
            "",
            "## Closed loop (the student drives the exo)",
            "",
            "Each seed walks three times: exo at zero torque, teacher driving the exo, student driving it from its "
            "IMUs; reductions are per seed (mean ± SE) over the seeds where none of the three fell.",
            "",
            "| speed | slope | pairs | falls off / teacher / student | metabolic exo off / teacher / student (W/kg) "
            "| reduction teacher | reduction student | retained |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for c in figures["conditions"]:
            cl = c["closed_loop"]
            m, f = cl["metabolic_w_per_kg"], cl["falls"]
            lines.append(
                f"| {c['speed_m_s']:g} | {c['slope_deg']:+g} | {cl['pairs']}/{cl['episodes']} | "
                f"{f['exo_off']} / {f['teacher']} / {f['student']} | {m['exo_off']:.2f} / {m['teacher']:.2f} / "
                f"{m['student']:.2f} | {cl['teacher_reduction_pct']:+.2f} ± {cl['teacher_reduction_se_pct']:.2f} % | "
                f"{cl['student_reduction_pct']:+.2f} ± {cl['student_reduction_se_pct']:.2f} % | {cl['retained_pct']:.0f} % |"
            )
        lines.append("")
        lines.append("Retained is NaN where the teacher itself does not reduce the cost: there is nothing to retain.")
    rob = figures["robustness"]
    lines += [
        "",
        f"## Robustness ({rob['speed_m_s']:g} m/s, {rob['slope_deg']:+g}°)",
        "",
        "| sensor mounting (± ° per axis) | RMSE (N·m/kg) |",
        "|---|---|",
        *(f"| {d:g} | {v:.4f} |" for d, v in rob["mounting"]),
        "",
        "| noise and bias (× default) | RMSE (N·m/kg) |",
        "|---|---|",
        *(f"| {s:g} | {v:.4f} |" for s, v in rob["noise"]),
        "",
        "| IMU latency (control periods, the same on every IMU) | RMSE (N·m/kg) |",
        "|---|---|",
        *(f"| {p} | {v:.4f} |" for p, v in rob["latency"]),
        "",
        "## Real IMU recordings",
        "",
        "| recording | s | max torque (N·m) / limit | stride (Hz) | dominant torque frequency (Hz) | ratio "
        "| left vs right profile r (each over its own gait cycle) |",
        "|---|---|---|---|---|---|---|",
        *(
            f"| {r['recording']} | {r['seconds']:.0f} | {r['max_abs_torque_nm']:.2f} / {r['torque_limit_nm']:g} | "
            f"{r['stride_hz']:.3f} | {r['dominant_torque_hz']:.3f} | {r['harmonic']:.2f} | {r['left_right_r']:.2f} |"
            for r in figures["recordings"]
        ),
        "",
        *(f"![{p.stem}]({p.name})" for p in plots),
    ]
    path = out_dir / "eval_report.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def _plots(figures: dict, out_dir: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rob = figures["robustness"]
    fig, axes = plt.subplots(1, 4, figsize=(17, 3.2))
    axes[0].plot(*zip(*rob["mounting"], strict=True), marker="o")
    axes[0].set_xlabel("mounting rotation (± ° per axis)")
    axes[0].set_ylabel("RMSE (N·m/kg)")
    axes[1].plot(*zip(*rob["noise"], strict=True), marker="o")
    axes[1].set_xlabel("IMU noise and bias (× default)")
    axes[2].plot(*zip(*rob["latency"], strict=True), marker="o")
    axes[2].set_xlabel("IMU latency (control periods)")
    for r in figures["recordings"]:
        (line,) = axes[3].plot(r["profile_nm_per_kg"], label=f"{r['recording'].split('/')[-1]} right")
        axes[3].plot(r["profile_left_nm_per_kg"], color=line.get_color(), ls="--", label="left")
    axes[3].set_xlabel("% of each side's gait cycle (real recording)")
    axes[3].set_ylabel("student torque (N·m/kg)")
    axes[3].legend(fontsize=7)
    robustness = _save(fig, out_dir / "robustness_and_recordings.png", plt)
    return [_profiles_plot(figures, out_dir, plt), robustness]


def _profiles_plot(figures: dict, out_dir: Path, plt) -> Path:
    """Student and teacher shaped torque over the gait cycle (right hip), one panel per condition."""
    rows = figures["conditions"]
    fig, axes = plt.subplots(1, len(rows), figsize=(3.2 * len(rows), 3.0), sharey=True, squeeze=False)
    for ax, c in zip(axes[0], rows, strict=True):
        for key, label in (("profile_teacher_nm_per_kg", "teacher"), ("profile_student_nm_per_kg", "student")):
            if key in c:
                ax.plot(c[key], label=label)
        ax.set_title(f"{c['speed_m_s']:g} m/s {c['slope_deg']:+g}°{' (held out)' if c['held_out'] else ''}", fontsize=9)
        ax.set_xlabel("% gait cycle (right)")
    axes[0][0].set_ylabel("hip torque (N·m/kg, + flexion)")
    axes[0][0].legend(fontsize=7)
    return _save(fig, out_dir / "torque_over_gait_cycle.png", plt)


def _save(fig, path: Path, plt) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
