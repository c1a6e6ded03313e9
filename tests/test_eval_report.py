"""The teacher's eval report on slopes (issue 17): each slope target flips exactly at its threshold, a level-only
grid reports as before, a cell where every walk fell meets nothing, the slope plots and summary rows are written.
Grids are built from chosen numbers; nothing is simulated."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from teacher.eval_report import slope_targets, targets, write_report
from teacher.evaluation import CHANNELS, ConditionResult, GridResult, PairedResult, summary
from teacher.sim.reference import ReferenceGait
from teacher.standing import StandingResult

SPEEDS = (0.8, 1.0, 1.25, 1.5)
SLOPES = (-10.0, -5.0, 0.0, 5.0, 10.0)
PROBE_FACTOR = {-10.0: 0.9, -5.0: 0.8, 0.0: 1.0, 5.0: 1.5, 10.0: 2.0}
META = {
    "run_dir": "runs/x",
    "total_steps": 1000,
    "wall_h": 1.0,
    "stage": "slopes",
    "hash": "ab" * 32,
    "episodes": 16,
    "seconds": 10.0,
    "command": "hipexo teacher eval runs/x",
}
NAN = float("nan")


def condition(speed, slope, exo, *, probe=5.0, falls=0.0, speed_err=0.03, peak=0.15, walked=True) -> ConditionResult:
    """A condition with chosen figures; ``walked=False``: every walk fell before a whole stride (no figures)."""
    gc = np.arange(101)
    mean = np.zeros((101, len(CHANNELS)))
    mean[:, 0] = 20 * np.cos(2 * np.pi * gc / 100) + slope
    mean[:, 1] = 30 * np.sin(np.pi * gc / 100) ** 2
    mean[:, 2] = 10 * np.sin(2 * np.pi * gc / 100)
    if exo:
        mean[:, 6] = -peak * np.exp(-(((gc - 10) / 6) ** 2)) + 0.1 * np.exp(-(((gc - 55) / 6) ** 2))
    peaks = {
        f"{side}_{k}": v
        for side in ("right", "left")
        for k, v in (("extension_nm_per_kg", peak), ("extension_at_pct", 10.0), ("flexion_nm_per_kg", 0.1))
        + (("flexion_at_pct", 55.0),)
    }
    joints = {f"{side}_{j}": 0.97 for side in ("right", "left") for j in ("hip", "knee", "ankle")}
    return ConditionResult(
        speed_m_s=speed,
        slope_deg=slope,
        exo=exo,
        episodes=16,
        fall_rate=falls,
        speed_error_m_s=speed_err,
        metabolic_w_per_kg=probe if walked else NAN,
        metabolic_se_w_per_kg=0.1 if walked else NAN,
        mean_activation=0.1 if walked else NAN,
        positive_power_w_per_kg=1.0 if walked else NAN,
        strides=100 if walked else 0,
        strikes_per_stride=1.0 if walked else NAN,
        net_work_j_per_kg_m=0.8 + 0.5 * slope / 10 if walked else NAN,
        fibre_work_w_per_kg=(4.5, -3.5) if walked else (NAN, NAN),
        angle_r=dict(joints) if walked else {},
        angle_rmse_deg=dict.fromkeys(joints, 4.0) if walked else {},
        moment_r=dict(joints) if walked else {},
        moment_rmse_nm_per_kg=dict.fromkeys(joints, 0.1) if walked else {},
        exo_peaks=peaks if walked else {},
        mean_cycle={"right": mean.tolist(), "left": mean.tolist()} if walked else {},
    )


def paired(speed, slope, *, reduction=6.0, se=0.8, pairs=16, falls_off=0, falls_on=0) -> PairedResult:
    return PairedResult(speed, slope, 16, pairs, falls_off, falls_on, reduction, se, 3.0, 0.5, 2.0, 0.5)


def grid_of(speeds=SPEEDS, slopes=SLOPES, all_fell=()) -> GridResult:
    """Every target met: probe 0.8–2× level, reductions growing uphill, extension peaks growing with incline.
    Cells in ``all_fell``: every walk fell, exo off and on."""
    conditions, pairs = [], []
    for k, s in enumerate(speeds):
        level = 4.0 + 0.5 * k
        for sl in slopes:
            if (s, sl) in all_fell:
                conditions += [condition(s, sl, exo, falls=1.0, speed_err=0.4, walked=False) for exo in (False, True)]
                pairs.append(paired(s, sl, reduction=NAN, se=NAN, pairs=0, falls_off=16, falls_on=16))
                continue
            probe = level * PROBE_FACTOR.get(sl, 1.0)
            conditions += [
                condition(s, sl, False, probe=probe),
                condition(s, sl, True, probe=0.9 * probe, peak=0.15 + 0.005 * max(sl, 0.0)),
            ]
            pairs.append(paired(s, sl, reduction=5.0 + k + 0.3 * max(sl, 0.0)))
    return GridResult(conditions, pairs)


def changed(grid: GridResult, speed: float, slope: float, exo: bool | None = None, **changes) -> GridResult:
    """The grid with one cell's condition (``exo`` True/False) or pairing (``exo`` None) changed."""
    if exo is None:
        return GridResult(
            grid.conditions,
            [
                dataclasses.replace(p, **changes) if (p.speed_m_s, p.slope_deg) == (speed, slope) else p
                for p in grid.paired
            ],
        )
    return GridResult(
        [
            dataclasses.replace(c, **changes) if (c.speed_m_s, c.slope_deg, c.exo) == (speed, slope, exo) else c
            for c in grid.conditions
        ],
        grid.paired,
    )


def peaked(grid: GridResult, speed: float, slope: float, peak: float) -> GridResult:
    c = grid.condition(speed, slope, True)
    return changed(grid, speed, slope, True, exo_peaks=c.exo_peaks | {"right_extension_nm_per_kg": peak})


def row(rows, prefix: str) -> tuple[str, str, bool]:
    found = [r for r in rows if r[0].startswith(prefix)]
    assert len(found) == 1, (prefix, [r[0] for r in rows])
    return found[0]


def met(grid: GridResult, prefix: str) -> bool:
    return row(slope_targets(grid), prefix)[2]


FALLS = "slopes: falls ≤ 5 %"
SPEED = "slopes: mean speed error ≤ 0.1 m/s"
UPHILL_PROBE = "slopes: probe at +10° ≥ 1.8× level"
DOWNHILL_PROBE = "slopes: probe at −5° below level"
ASSISTED = "slopes: paired reduction > 0 by > 2 SE"
UPHILL_MORE = "slopes: paired reduction larger uphill than level"
DESCENT = "slopes: paired reduction ≥ 0 within 2 SE on descent"
PEAKS = "slopes: peak extension torque grows with incline"
ALL_ROWS = (FALLS, SPEED, UPHILL_PROBE, DOWNHILL_PROBE, ASSISTED, UPHILL_MORE, DESCENT, PEAKS)
STANDING = StandingResult(1.5, 0.05, 0.98)

LEVEL_ROWS = [  # what targets() reported for this level grid before the slope targets were added
    ("falls ≤ 5 % at every level speed, exo off and on", "0.8: 0/0 %, 1: 0/0 %, 1.25: 0/0 %, 1.5: 0/0 %", True),
    ("probe 3–6 W/kg (1.25 m/s level, exo at zero torque)", "5.00 W/kg", True),
    ("mean activation ≤ 0.12 (same)", "0.100", True),
    (
        "quiet standing 1.0–2.0 W/kg (prior holding the standing pose, hand on a rail)",
        "1.50 W/kg, activation 0.050, legs carry 98 % of body weight",
        True,
    ),
    (
        "hip angle vs Fukuchi r ≥ 0.95 and RMSE ≤ 5° at every level speed (exo off, right, whole strides)",
        "0.8: 0.97/4.0°, 1: 0.97/4.0°, 1.25: 0.97/4.0°, 1.5: 0.97/4.0°",
        True,
    ),
    ("metabolic reduction ≥ 5 % and > 2 SE (1.25 m/s level, paired)", "7.0 ± 0.8 %", True),
    (
        "reduction > 0 at every level speed and growing with speed",
        "0.8: 5.0 %, 1: 6.0 %, 1.25: 7.0 %, 1.5: 8.0 %",
        True,
    ),
    (
        "profile: peaks 0.10–0.30 N·m/kg, extension at 0–20 or 85–100 % GC, flexion at 40–70 % GC (1.25 m/s)",
        "extension 0.150 at 10 %, flexion 0.100 at 55 %",
        True,
    ),
]


def test_a_level_only_grid_reports_exactly_as_before(tmp_path):
    level = grid_of(slopes=(0.0,))
    assert targets(level, STANDING) == LEVEL_ROWS and slope_targets(level) == []
    report = write_report(level, tmp_path, META, ReferenceGait()).read_text()
    assert "Per slope" not in report and not list(tmp_path.glob("slope_*.png"))
    # on the full grid the level rows come first, unchanged, then one row per slope target
    rows = targets(grid_of(), STANDING)
    assert rows[: len(LEVEL_ROWS)] == LEVEL_ROWS
    assert [r[0] for r in rows[len(LEVEL_ROWS) :]] == [row(rows, p)[0] for p in ALL_ROWS]


def test_a_grid_meeting_every_slope_target_is_reported_met():
    rows = slope_targets(grid_of())
    assert len(rows) == len(ALL_ROWS) and all(ok for _, _, ok in rows)
    assert row(rows, FALLS)[1].startswith("20/20 cells met; worst ")
    assert row(rows, UPHILL_PROBE)[1].startswith("0.8: 8.00/4.00 W/kg = 2.00×")
    assert row(rows, PEAKS)[1].startswith("0.8: 0.150 → 0.175 → 0.200 N·m/kg")


@pytest.mark.parametrize("exo", [False, True])
def test_falls_flip_at_5_percent_in_any_cell_exo_off_or_on(exo):
    assert met(changed(grid_of(), 1.0, -10.0, exo, fall_rate=0.05), FALLS)
    worse = changed(grid_of(), 1.0, -10.0, exo, fall_rate=1 / 16)  # one fall in 16 is already too many
    assert not met(worse, FALLS)
    measured = row(slope_targets(worse), FALLS)[1]
    assert measured.startswith("19/20 cells met; worst 1 m/s -10°: " + ("0/6 %" if exo else "6/0 %"))


@pytest.mark.parametrize("exo", [False, True])
def test_speed_error_flips_at_a_tenth_of_a_metre_per_second(exo):
    assert met(changed(grid_of(), 1.5, 5.0, exo, speed_error_m_s=0.1), SPEED)
    worse = changed(grid_of(), 1.5, 5.0, exo, speed_error_m_s=np.nextafter(0.1, 1.0))
    assert not met(worse, SPEED) and "worst 1.5 m/s +5°: " in row(slope_targets(worse), SPEED)[1]


def test_the_uphill_probe_flips_at_1_8_times_level_at_the_same_speed():
    grid = grid_of()
    level = grid.condition(1.25, 0.0, False).metabolic_w_per_kg
    assert met(changed(grid, 1.25, 10.0, False, metabolic_w_per_kg=1.8 * level), UPHILL_PROBE)
    short = np.nextafter(1.8 * level, 0.0)
    assert not met(changed(grid, 1.25, 10.0, False, metabolic_w_per_kg=short), UPHILL_PROBE)
    # per speed: a lower level probe at another speed does not rescue it
    assert not met(changed(grid, 1.25, 10.0, False, metabolic_w_per_kg=1.8 * 4.0 + 0.5), UPHILL_PROBE)
    # the exo-on probe is not the one judged
    assert met(changed(grid, 1.25, 10.0, True, metabolic_w_per_kg=level), UPHILL_PROBE)


def test_the_downhill_probe_must_be_below_level_at_the_same_speed():
    grid = grid_of()
    level = grid.condition(0.8, 0.0, False).metabolic_w_per_kg
    assert not met(changed(grid, 0.8, -5.0, False, metabolic_w_per_kg=level), DOWNHILL_PROBE)
    assert met(changed(grid, 0.8, -5.0, False, metabolic_w_per_kg=np.nextafter(level, 0.0)), DOWNHILL_PROBE)


@pytest.mark.parametrize("slope", [0.0, 5.0, 10.0])
def test_assistance_flips_at_two_standard_errors_in_every_cell_not_downhill(slope):
    grid = grid_of()
    assert not met(changed(grid, 1.0, slope, reduction_pct=1.6, reduction_se_pct=0.8), ASSISTED)
    assert met(changed(grid, 1.0, slope, reduction_pct=np.nextafter(1.6, 2.0), reduction_se_pct=0.8), ASSISTED)
    assert not met(changed(grid, 1.0, slope, reduction_se_pct=NAN), ASSISTED)  # one pair: no SE, no claim
    assert "worst 1 m/s" in row(slope_targets(changed(grid, 1.0, slope, reduction_pct=1.6)), ASSISTED)[1]
    # a descent cell is not held to it
    assert met(changed(grid, 1.0, -5.0, reduction_pct=0.0), ASSISTED)


@pytest.mark.parametrize("uphill", [5.0, 10.0])
def test_assistance_must_be_larger_uphill_than_level_at_each_speed(uphill):
    grid = grid_of()
    level = grid.pairing(1.5, 0.0).reduction_pct
    assert not met(changed(grid, 1.5, uphill, reduction_pct=level), UPHILL_MORE)
    assert met(changed(grid, 1.5, uphill, reduction_pct=np.nextafter(level, 100.0)), UPHILL_MORE)


@pytest.mark.parametrize("slope", [-5.0, -10.0])
def test_descent_flips_where_reduction_plus_two_se_reaches_zero(slope):
    grid = grid_of()
    assert met(changed(grid, 0.8, slope, reduction_pct=-1.6, reduction_se_pct=0.8), DESCENT)
    assert not met(changed(grid, 0.8, slope, reduction_pct=np.nextafter(-1.6, -2.0), reduction_se_pct=0.8), DESCENT)
    assert not met(changed(grid, 0.8, slope, reduction_se_pct=NAN), DESCENT)


@pytest.mark.parametrize(("slope", "neighbour"), [(5.0, 0.0), (10.0, 5.0)])
def test_the_extension_peak_must_grow_with_incline_at_each_speed(slope, neighbour):
    grid = grid_of()
    same = grid.condition(1.0, neighbour, True).exo_peaks["right_extension_nm_per_kg"]  # 0.150 or 0.175
    assert not met(peaked(grid, 1.0, slope, same), PEAKS)
    assert met(peaked(grid, 1.0, slope, np.nextafter(same, 1.0)), PEAKS)
    # the exo's left side and its flexion peak are not what is judged
    c = grid.condition(1.0, slope, True)
    shrunk = changed(grid, 1.0, slope, True, exo_peaks=c.exo_peaks | {"left_extension_nm_per_kg": 0.0})
    assert met(shrunk, PEAKS)


@pytest.mark.parametrize("cell", [(1.5, 10.0), (1.0, -5.0)])
def test_a_cell_where_every_walk_fell_meets_nothing_and_breaks_nothing(cell, tmp_path):
    grid = grid_of(all_fell=(cell,))
    rows = slope_targets(grid)
    judged = (FALLS, SPEED, ASSISTED, UPHILL_MORE, UPHILL_PROBE, PEAKS) if cell[1] > 0 else (FALLS, SPEED, DESCENT)
    for prefix in judged:
        assert not row(rows, prefix)[2], prefix
    if cell[1] < 0:
        assert not row(rows, DOWNHILL_PROBE)[2]
    assert f"worst {cell[0]:g} m/s {cell[1]:+g}°: 100/100 %" in row(rows, FALLS)[1]
    # a pairing that claims a reduction with no pairs behind it is still not met
    claimed = changed(grid, *cell, reduction_pct=50.0, reduction_se_pct=0.1)
    assert not row(slope_targets(claimed), ASSISTED if cell[1] > 0 else DESCENT)[2]
    report = write_report(grid, tmp_path, META, ReferenceGait()).read_text()
    assert f"| {cell[1]:+g} | {cell[0]:g} | 0/16 | 16/16 | – | – | – | 0.400/0.400 | – |" in report
    entry = next(c for c in json.loads((tmp_path / "summary.json").read_text())["conditions"] if c["pairs"] == 0)
    assert (entry["speed_m_s"], entry["slope_deg"]) == cell and math.isnan(entry["reduction_pct"])


def test_each_slope_target_shows_only_with_the_cells_it_needs():
    rows = slope_targets(grid_of(speeds=(1.25,), slopes=(-5.0, 0.0)))
    assert {r[0].split(" (")[0] for r in rows} == {
        row(rows, p)[0].split(" (")[0] for p in (FALLS, SPEED, DOWNHILL_PROBE, ASSISTED, DESCENT)
    }
    rows = slope_targets(grid_of(speeds=(1.25,), slopes=(0.0, 5.0)))
    assert not any(r[0].startswith((UPHILL_PROBE, DOWNHILL_PROBE, DESCENT)) for r in rows)
    assert row(rows, UPHILL_MORE)[2] and row(rows, PEAKS)[1] == "1.25: 0.150 → 0.175 N·m/kg"
    # a cell that has a pairing but lost its conditions counts, not met, rather than crash
    grid = grid_of()
    partial = GridResult([c for c in grid.conditions if (c.speed_m_s, c.slope_deg) != (1.0, 5.0)], grid.paired)
    assert not met(partial, FALLS) and not met(partial, SPEED)


def test_the_slope_report_writes_its_plots_and_a_table_by_slope(tmp_path):
    report = write_report(grid_of(all_fell=((0.8, -10.0),)), tmp_path, META, ReferenceGait()).read_text()
    for name in ("slope_reduction", "slope_probe", "slope_falls", "slope_joint_angles"):
        png = (tmp_path / f"{name}.png").read_bytes()
        assert png[:4] == b"\x89PNG" and len(png) > 10_000, name
        assert f"![{name}]({name}.png)" in report and f"- `{name}.png`: " in report
    for name in ("joints_vs_reference", "exo_torque_profiles", "metabolic_reduction"):  # the level plots stay
        assert (tmp_path / f"{name}.png").stat().st_size > 0
    section = report.split("## Per slope")[1].split("\n## ")[0]
    table = [line for line in section.splitlines() if line.startswith("| ") and line[2] in "+-"]
    assert len(table) == len(SPEEDS) * len(SLOPES)
    assert [float(line.split(" | ")[0][2:]) for line in table] == sorted(s for s in SLOPES for _ in SPEEDS)
    assert (
        "| +10 | 1.25 | 16/16 | 0/0 | 10.00 ± 0.10 | 9.00 ± 0.10 | 10.0 ± 0.8 | 0.030/0.030 | 0.200 | 1.30 (+1.70) | 4.50 / -3.50 |"
        in table
    )
    assert "| -10 | 0.8 | 0/16 | 16/16 | – | – | – | 0.400/0.400 | – | – (-1.70) | – |" in table


def test_the_summary_carries_every_cell_with_the_level_keys():
    grid = grid_of(all_fell=((1.5, 10.0),))
    rows = summary(grid, 1000)["conditions"]
    assert {(r["speed_m_s"], r["slope_deg"]) for r in rows} == {(s, sl) for s in SPEEDS for sl in SLOPES}
    keys = set(summary(grid_of(slopes=(0.0,)), 1000)["conditions"][0])
    assert all(set(r) == keys for r in rows)
    assert {
        "pairs",
        "falls_off",
        "falls_on",
        "metabolic_off_w_kg",
        "reduction_pct",
        "reduction_se_pct",
        "speed_error_off_m_s",
        "speed_error_on_m_s",
        "exo_ext_peak_nm_kg",
        "net_work_off_j_kg_m",
        "lift_j_kg_m",
        "fibre_positive_work_off_w_kg",
        "fibre_negative_work_off_w_kg",
    } <= keys
    uphill = next(r for r in rows if (r["speed_m_s"], r["slope_deg"]) == (1.25, 10.0))
    assert uphill["metabolic_off_w_kg"] == 10.0 and uphill["exo_ext_peak_nm_kg"] == 0.2
    assert uphill["speed_error_on_m_s"] == 0.03 and uphill["falls_off"] == 0.0
    assert uphill["net_work_off_j_kg_m"] == 1.3 and uphill["lift_j_kg_m"] == pytest.approx(
        9.81 * np.sin(np.radians(10)), abs=1e-5
    )
    # a cell with a pairing but no conditions still gets its full row
    partial = GridResult([c for c in grid.conditions if c.slope_deg != -5.0], grid.paired)
    assert all(set(r) == keys for r in summary(partial, 1000)["conditions"])
