"""Teacher evaluation: gait-cycle cutting, comparison with the reference, exo peaks, the command and report."""

from __future__ import annotations

import json

import numpy as np
import pytest

from teacher.eval_report import targets
from teacher.evaluation import EpisodeRecord, _cycles, _strikes, reduction_pct, summarise
from teacher.sim.reference import ReferenceGait
from tools.cli import main


def test_heel_strikes_cut_cycles_normalised_to_101_points():
    t = np.arange(300)
    heel = np.where((t % 60) < 35, 500.0, 0.0)  # stance for 35 of every 60 samples
    strikes = _strikes(heel, 40.0)
    assert strikes == [60, 120, 180, 240]
    signal = np.column_stack([np.sin(2 * np.pi * t / 60), t.astype(float)])
    cycles = _cycles(signal, strikes)
    assert cycles.shape == (3, 101, 2)
    np.testing.assert_allclose(cycles[0, :, 0], np.sin(2 * np.pi * np.linspace(0, 60, 101) / 60), atol=2e-3)


def test_a_walker_that_matches_the_reference_scores_perfectly_and_peaks_are_found():
    reference = ReferenceGait()
    curves = reference.curves(1.25)
    gc = np.arange(101)
    exo = -0.1 * np.exp(-(((gc - 15) / 6) ** 2)) + 0.08 * np.exp(-(((gc - 60) / 6) ** 2))
    cycle = np.column_stack([curves[:, :4], exo])
    record = EpisodeRecord(
        steps=500,
        fell=False,
        speed_error_m_s=0.02,
        metabolic_w_per_kg=3.0,
        mean_activation=0.1,
        cycles_right=np.stack([cycle, cycle]),
        cycles_left_exo=np.stack([exo]),
    )
    result = summarise(1.25, 0.0, True, [record], reference)
    assert result.angle_r["hip"] == pytest.approx(1.0) and result.angle_rmse_deg["knee"] == pytest.approx(0.0)
    assert result.hip_moment_r == pytest.approx(1.0)
    assert result.exo_peaks["right_extension_at_pct"] == 15 and result.exo_peaks["right_flexion_at_pct"] == 60
    assert result.exo_peaks["right_extension_nm_per_kg"] == pytest.approx(0.1, abs=1e-3)
    off = summarise(1.25, 0.0, False, [record], reference)
    off.metabolic_w_per_kg = 3.2
    assert reduction_pct([off, result], 1.25, 0.0) == pytest.approx(6.25)
    met = {t: ok for t, _, ok in targets([off, result])}
    assert met["extension in early stance, flexion around toe-off (1.25 m/s level)"]
    assert met["metabolic reduction ≥ 3 % (1.25 m/s level, exo on vs off)"]


def test_eval_command_writes_report_plots_and_json(smoke_run, tmp_path, capsys):
    out, js = tmp_path / "eval", tmp_path / "eval.json"
    args = ["teacher", "eval", str(smoke_run), "--speeds", "1.25", "--slopes", "0", "--episodes", "1", "--seconds", "1"]
    assert main([*args, "--out", str(out), "--json", str(js), "--workers", "1"]) == 0
    report = (out / "report.md").read_text()
    assert "## Targets" in report and "| 1.25 | +0 | off |" in report and "| 1.25 | +0 | on |" in report
    assert (out / "exo_torque_profiles.png").read_bytes()[:4] == b"\x89PNG"
    data = json.loads(js.read_text())
    assert {c["exo"] for c in data["conditions"]} == {False, True} and data["meta"]["total_steps"] == 2048
    assert "report:" in capsys.readouterr().out


def test_the_eval_driver_names_the_teacher_without_loading_torch():
    """The workers load the policy; the driver only needs its hash and sim config (seconds saved per eval)."""
    import subprocess
    import sys

    from firmware_bridge.config.paths import REPO_ROOT

    probe = (
        "import sys\nfrom teacher.training.checkpoint import CheckpointSummary\n"
        f"s = CheckpointSummary.read({str(REPO_ROOT / 'models' / 'teacher' / 'default')!r})\n"
        "print(s.total_steps, s.stage, len(s.hash), 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["901120", "slopes", "64", "False"]  # saved at the assist → slopes transition
