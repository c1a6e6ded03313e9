"""The bench's plots say what they show: every axis labelled, budgets drawn, every shaded band in a legend.

A short real bench (recorded walking through the real runtime on ptys) with one fault whose expectation
is met and one whose expectation cannot be (a duplicated seq never disables torque), so both kinds of band
are drawn; the matplotlib figures are inspected before they are saved.
"""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from matplotlib.collections import PolyCollection

from firmware_bridge.config import DeviceConfig, RuntimeConfig, SubjectConfig, load_config
from firmware_bridge.config.paths import default_config
from hil.bench import run_bench
from hil.bench_report import analyse, bench_figures
from hil.scenario import BenchScenario

SCENARIO = {
    "kind": "bench",
    "duration_s": 5.5,
    "faults": [
        {"type": "imu_loss", "at_s": 2.0, "duration_s": 0.3, "expect": {"zero_within_s": 0.05}},
        {"type": "duplicate_seq", "at_s": 3.3, "duration_s": 0.3, "expect": {"zero_within_s": 0.05}},
    ],
}


@pytest.fixture(scope="module")
def bench_plots(tmp_path_factory):
    work = tmp_path_factory.mktemp("bench-plots")
    (work / "scenario.yaml").write_text(yaml.safe_dump(SCENARIO))
    scenario = load_config(work / "scenario.yaml", BenchScenario)
    device = load_config(default_config("device", "hip_exo"), DeviceConfig)
    subject = load_config(default_config("subject"), SubjectConfig)
    paths = {"runtime": default_config("runtime"), "device": default_config("device", "hip_exo")}
    paths["subject"] = default_config("subject")
    baseline = ["--baseline", str(default_config("controller", "baseline"))]
    run = run_bench(scenario, baseline, work / "work", device, subject, paths)
    ids = device.imu_ids()
    rate = load_config(paths["runtime"], RuntimeConfig).loop_rate_hz
    figures = analyse(run, (ids["thigh_r"], ids["thigh_l"]), rate, subject.body_mass_kg)
    return figures, bench_figures(run, figures)


def _rgba(colour) -> tuple[float, ...]:
    return tuple(np.round(np.ravel(colour)[:4], 3))


def bands(ax) -> list:
    """Shaded areas: spans and fill_between polygons (histogram bars belong to containers, not counted)."""
    bars = {id(p) for container in ax.containers for p in container}
    spans = [p for p in ax.patches if id(p) not in bars]
    return spans + [c for c in ax.collections if isinstance(c, PolyCollection)]


def legend_texts(ax) -> list[str]:
    legend = ax.get_legend()
    return [t.get_text() for t in legend.get_texts()] if legend else []


def test_every_axis_is_labelled_and_every_band_is_in_a_legend(bench_plots):
    figures, plots = bench_plots
    assert set(plots) == {"timing", "torque_vs_phase", "fault_timeline"}
    assert {f["passed"] for f in figures["faults"]} == {True, False}, "both kinds of fault band drawn"
    counted = 0
    for name, fig in plots.items():
        for ax in fig.axes:
            assert ax.get_xlabel() and ax.get_ylabel(), f"{name}: an axis without a label"
            legend = ax.get_legend()
            handles = legend.legend_handles if legend else []
            in_legend = {_rgba(h.get_facecolor()) for h in handles if hasattr(h, "get_facecolor")}
            for band in bands(ax):
                counted += 1
                assert _rgba(band.get_facecolor()) in in_legend, f"{name}: a band with no legend entry"
    assert counted >= 4  # two fault windows, two ± SD bands


def test_timing_and_fault_plots_carry_units_and_budgets(bench_plots):
    figures, plots = bench_plots
    lateness, round_trip = plots["timing"].axes
    assert "µs" in lateness.get_xlabel() and "ms" in round_trip.get_xlabel()
    period = figures["loop_period_ms"]
    for ax, at in ((lateness, 1e3 * period), (round_trip, period)):
        (budget,) = [line for line in ax.get_lines() if line.get_label().startswith("budget")]
        assert budget.get_xdata()[0] == pytest.approx(at) and budget.get_label() in legend_texts(ax)
    (timeline,) = plots["fault_timeline"].axes
    assert "(s)" in timeline.get_xlabel() and "N·m" in timeline.get_ylabel()
    budgets = [line for line in timeline.get_lines() if "budget" in line.get_label()]
    assert len(budgets) == len(figures["faults"])  # one zero-torque deadline per fault, one legend entry
    assert sum("budget" in text for text in legend_texts(timeline)) == 1
