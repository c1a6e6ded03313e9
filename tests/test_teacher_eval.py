"""Teacher evaluation: strides that survive heel bounce (on a real rollout), paired seeds, the report and JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest

from teacher.eval_report import targets
from teacher.evaluation import (
    CHANNELS,
    HEEL_STRIKE_BW,
    EpisodeRecord,
    GridResult,
    evaluate,
    heel_strikes,
    pair,
    run_episode,
    summarise,
    time_normalise,
    whole_strides,
)
from teacher.sim.reference import ReferenceGait
from tools.cli import main


def test_a_heel_strikes_once_per_stride_after_its_swing():
    """The heel bounces after each strike and touches again late in stance while the toes push off; only the rise
    after a swing (the whole foot unloaded) is a strike. The walk starts in stance: that is no strike either."""
    t = np.arange(300)
    cycle = t % 60
    heel = np.where((cycle < 30) & ~((cycle >= 3) & (cycle < 5)) | ((cycle >= 32) & (cycle < 34)), 500.0, 0.0)
    toes = np.where((cycle >= 20) & (cycle < 40), 300.0, 0.0)
    plain = heel_strikes(heel, heel + toes, 40.0, swing_steps=0)
    assert plain == [5, 32, 60, 65, 92, 120, 125, 152, 180, 185, 212, 240, 245, 272]
    strikes = heel_strikes(heel, heel + toes, 40.0, swing_steps=12)
    assert strikes == [60, 120, 180, 240]
    assert whole_strides([35] + strikes, 60) == [(60, 120), (120, 180), (180, 240)]  # 35 to 60 is no stride
    signal = np.column_stack([np.sin(2 * np.pi * t / 60), t.astype(float)])
    cycles = time_normalise(signal, whole_strides(strikes, 60))
    assert cycles.shape == (3, 101, 2)
    np.testing.assert_allclose(cycles[0, :, 0], np.sin(2 * np.pi * np.linspace(0, 60, 101) / 60), atol=2e-3)


@pytest.fixture(scope="module")
def shipped_walk():
    from teacher.policy import TeacherPolicy

    teacher = TeacherPolicy("models/teacher/default")
    return teacher, run_episode(teacher, teacher.sim_config, 1.25, 0.0, False, 1000, 10.0)


def test_strides_of_a_real_walk_are_whole_strides(shipped_walk):
    """The shipped teacher's heel bounces after strikes: a plain threshold finds extra strikes (the 901k teacher:
    ~2 per stride; this one ~1.4), the detector one per stride after each swing, and every stride it cuts lasts
    about the reference stride time."""
    teacher, record = shipped_walk
    assert not record.fell
    reference = ReferenceGait(teacher.sim_config.stride_length_at_1_25_m)
    expected = reference.stride_time_s(1.25) * teacher.sim_config.control_rate_hz  # 56 control steps
    strides = len(record.cycles["right"])
    assert 10.0 * 50 / expected - 3 <= strides <= 10.0 * 50 / expected
    assert record.strikes[0] - 1 == strides  # every strike after the first ends a whole stride
    # the same walk's right heel, cut without the refractory period, finds the bounce
    from teacher.env import HipExoWalkerEnv

    env = HipExoWalkerEnv(teacher.sim_config)
    obs, _ = env.reset(seed=1000, options={"speed_m_s": 1.25, "slope_deg": 0.0, "phase": 0.0})
    heel = []
    for _ in range(500):
        obs, *_ = env.step(teacher.act(obs))
        heel.append(env._body.contact_forces[0])
    threshold = HEEL_STRIKE_BW * env.backend.body_mass_kg * 9.81
    assert len(heel_strikes(np.array(heel), np.array(heel), threshold, swing_steps=0)) >= record.strikes[0] + 3
    # a whole stride starts at heel strike: the hip is flexed there, extended before toe-off
    hip = record.cycles["right"][:, :, CHANNELS.index("hip_angle")].mean(axis=0)
    assert hip[0] > 15.0 and hip[50:65].min() < 0.0


def test_both_legs_are_cut_at_their_own_heel_strikes_on_a_walk_that_starts_in_stance():
    """At 0.8 m/s the slope teacher starts this walk with its left foot loaded and touches its left heel again at
    push-off; cut after a refractory period, every left stride began there, half a cycle late."""
    from teacher.policy import TeacherPolicy

    teacher = TeacherPolicy("models/teacher/slopes")
    record = run_episode(teacher, teacher.sim_config, 0.8, 0.0, True, 2009, 10.0)
    assert not record.fell
    for side in ("right", "left"):
        hip = record.cycles[side][:, :, CHANNELS.index("hip_angle")]
        assert len(hip) >= 5
        assert np.all(hip[:, 0] > 10.0) and np.all(hip[:, 40:70].min(axis=1) < 0.0)  # flexed at the strike


def test_the_muscles_net_work_is_positive_on_level_ground_and_rises_uphill(shipped_walk):
    """Net work per metre: positive on level ground (the gait loses energy at contacts and joint limits), less
    than the positive work, and higher on an incline, where lifting the body asks g·sin(slope) more of it."""
    from teacher.policy import TeacherPolicy

    _, level = shipped_walk
    assert 0.0 < level.net_work_j_per_kg_m < level.positive_power_w_per_kg / 1.25
    # over whole strides the fibres' net work is what the muscles put in at the joints (tendons return what they
    # store): fibre shortening + lengthening work ≈ net joint work per metre × speed
    shortening, lengthening = level.fibre_work_w_per_kg
    assert shortening > 1.0 and lengthening < -1.0
    assert shortening + lengthening == pytest.approx(level.net_work_j_per_kg_m * 1.25, abs=0.3)
    slopes = TeacherPolicy("models/teacher/slopes")
    flat, uphill = (run_episode(slopes, slopes.sim_config, 1.0, slope, False, 1000, 6.0) for slope in (0.0, 5.0))
    assert not (flat.fell or uphill.fell)
    assert uphill.net_work_j_per_kg_m > flat.net_work_j_per_kg_m + 0.1


def _record(seed: int, metabolic: float, fell: bool = False, cycle: np.ndarray | None = None) -> EpisodeRecord:
    cycles = np.stack([cycle, cycle]) if cycle is not None else np.zeros((0, 101, len(CHANNELS)))
    return EpisodeRecord(seed, 500, fell, 0.02, metabolic, 0.2, 3.0, (3, 3), {"right": cycles, "left": cycles})


def test_reductions_are_paired_by_seed_and_exclude_falls():
    off = [_record(1, 10.0), _record(2, 12.0), _record(3, 11.0), _record(4, 9.0, fell=True)]
    on = [_record(1, 9.5), _record(2, 11.0), _record(3, 10.8), _record(4, 8.0)]
    paired = pair(1.25, 0.0, off, on)
    per_seed = [5.0, 100 / 12, 100 * 0.2 / 11]
    assert paired.pairs == 3 and paired.falls_off == 1 and paired.falls_on == 0
    assert paired.reduction_pct == pytest.approx(np.mean(per_seed))
    assert paired.reduction_se_pct == pytest.approx(np.std(per_seed, ddof=1) / np.sqrt(3))
    with pytest.raises(AssertionError):
        pair(1.25, 0.0, off, on[::-1])


def test_a_walker_that_matches_the_reference_scores_perfectly_and_peaks_are_found():
    reference = ReferenceGait()
    curves = reference.curves(1.25)
    gc = np.arange(101)
    exo = -0.15 * np.exp(-(((gc - 10) / 6) ** 2)) + 0.12 * np.exp(-(((gc - 55) / 6) ** 2))
    cycle = np.column_stack([curves, exo])
    on = [_record(1000 + k, 3.0 - 0.2 * (k % 2), cycle=cycle) for k in range(4)]
    off = [_record(1000 + k, 3.4, cycle=np.column_stack([curves, 0 * exo])) for k in range(4)]
    result = summarise(1.25, 0.0, True, on, reference)
    assert result.angle_r["right_hip"] == pytest.approx(1.0) and result.angle_rmse_deg["left_knee"] == pytest.approx(
        0.0
    )
    assert result.moment_r["right_ankle"] == pytest.approx(1.0)
    assert result.exo_peaks["right_extension_at_pct"] == 10 and result.exo_peaks["right_flexion_at_pct"] == 55
    assert result.exo_peaks["right_extension_nm_per_kg"] == pytest.approx(0.15, abs=1e-3)
    grid = GridResult([summarise(1.25, 0.0, False, off, reference), result], [pair(1.25, 0.0, off, on)])
    met = {t.split(" (")[0]: ok for t, _, ok in targets(grid)}
    assert (
        met["metabolic reduction ≥ 5 % and > 2 SE"]
        and met["profile: peaks 0.10–0.30 N·m/kg, extension at 0–20 or 85–100 % GC, flexion at 40–70 % GC"]
    )
    assert met["probe 3–6 W/kg"] and not met["mean activation ≤ 0.12"]  # 3.4 W/kg; activation 0.2


def test_eval_command_writes_report_plots_and_summary(smoke_run, tmp_path, capsys):
    out, js = tmp_path / "eval", tmp_path / "eval.json"
    args = [
        "teacher",
        "eval",
        str(smoke_run),
        "--speeds",
        "1.25",
        "--slopes",
        "0",
        "--episodes",
        "2",
        "--duration",
        "1.5",
    ]
    assert main([*args, "--out", str(out), "--json", str(js), "--workers", "1"]) == 0
    report = (out / "report.md").read_text()
    assert "## Targets" in report and "| 1.25 | +0 | off |" in report and "| 1.25 | +0 | on |" in report
    assert (out / "exo_torque_profiles.png").read_bytes()[:4] == b"\x89PNG"
    data = json.loads(js.read_text())
    assert {c["exo"] for c in data["conditions"]} == {False, True} and data["meta"]["total_steps"] == 2048
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == 2048 and len(summary["conditions"]) == 1
    keys = {
        "speed_m_s",
        "slope_deg",
        "episodes",
        "falls_off",
        "falls_on",
        "metabolic_off_w_kg",
        "metabolic_on_w_kg",
        "reduction_pct",
        "reduction_se_pct",
        "activation_off",
        "activation_on",
        "exo_ext_peak_nm_kg",
        "exo_ext_peak_pct_gc",
        "exo_flex_peak_nm_kg",
        "exo_flex_peak_pct_gc",
        "hip_r",
        "hip_rmse_deg",
    }
    row = summary["conditions"][0]
    assert keys | {f"{k}_left" for k in keys if k.startswith(("exo_", "hip_"))} <= set(row)
    assert row["episodes"] == 2 and 0.0 <= row["falls_off"] <= 1.0
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
    assert out == ["1613824", "adapt", "64", "False"]  # the shipped teacher: 1.61M steps of its stage adapt


def test_first_seed_moves_every_conditions_seeds_so_selection_and_report_use_different_walks():
    from teacher.executor import make_executor
    from teacher.training.checkpoint import CheckpointSummary

    class Recording:
        """The real local executor, keeping the tasks it was given."""

        def __init__(self, inner):
            self.inner, self.tasks = inner, []

        def map(self, fn, tasks, **kwargs):
            self.tasks += tasks
            return self.inner.map(fn, tasks, **kwargs)

    teacher = CheckpointSummary.read("models/teacher/default")
    with make_executor(workers=1) as executor:
        recording = Recording(executor)
        grid = evaluate(
            teacher, recording, (1.25,), (0.0, 5.0), episodes=2, seconds=0.3, progress=False, first_seed=500
        )
    assert sorted({(t.slope, t.seed) for t in recording.tasks}) == [(0.0, 500), (0.0, 501), (5.0, 1500), (5.0, 1501)]
    assert {t.seed for t in recording.tasks if t.exo} == {t.seed for t in recording.tasks if not t.exo}  # paired
    assert [p.episodes for p in grid.paired] == [2, 2]
