"""Distillation: sensor randomisation, the smoke pipeline end to end (collect, train, export, eval) to a bundle
the runtime accepts, and stages that resume."""

from __future__ import annotations

import json

import numpy as np
import pytest

from distill.config import RandomisationConfig
from distill.randomise import SensorModel
from firmware_bridge.bundle import load_bundle
from firmware_bridge.signing import Trust
from tools.cli import main


def test_sensor_model_is_consistent_on_prefixes_and_rotates_rigidly():
    rng = np.random.default_rng(0)
    clean = rng.normal(size=(200, 3, 6))
    model = SensorModel.draw(RandomisationConfig(), 3, 200, np.random.default_rng(1))
    full = model.apply(clean)
    np.testing.assert_array_equal(model.apply(clean[:120]), full[:120])  # what the DAgger driver saw is what is stored
    quiet = RandomisationConfig(0.0, 0.0, 0.0, 0.0, 10.0, [0, 0], 0.0)
    rotated = SensorModel.draw(quiet, 3, 200, np.random.default_rng(2)).apply(clean)
    np.testing.assert_allclose(np.linalg.norm(rotated[:, :, :3], axis=2), np.linalg.norm(clean[:, :, :3], axis=2))
    assert not np.allclose(rotated, clean)
    delayed = SensorModel.draw(RandomisationConfig(0.0, 0.0, 0.0, 0.0, 0.0, [3, 3], 0.0), 3, 200, rng).apply(clean)
    np.testing.assert_allclose(delayed[3:], clean[:-3])


def test_training_wears_each_walk_with_fresh_sensors_from_the_clean_imu_its_dataset_keeps(tmp_path):
    from distill.collect import Episode, dataset_complete, load_dataset, save_dataset
    from distill.train import with_fresh_sensors

    rng = np.random.default_rng(0)
    clean = rng.normal(size=(300, 3, 6))
    worn = SensorModel.draw(RandomisationConfig(), 3, 300, rng).apply(clean)
    walk = Episode(1.0, 5.0, 7, worn, np.zeros((300, 2), np.float32), False, 4.0, clean, 70.0)
    path = save_dataset(tmp_path / "round_0.npz", [walk], {"round": 0})
    (loaded,) = load_dataset(path)
    np.testing.assert_allclose(loaded.clean_imu, clean, rtol=1e-6)  # stored as float32
    first, second = with_fresh_sensors([loaded, loaded], RandomisationConfig(), np.random.default_rng(1))
    assert not np.allclose(first.imu, second.imu) and not np.allclose(first.imu, loaded.imu)  # a draw per walk
    np.testing.assert_array_equal(first.labels, loaded.labels)  # the teacher's commands are the sensors' labels
    quiet = RandomisationConfig(0.0, 0.0, 0.0, 0.0, 0.0, [0, 0], 0.0)
    (bare,) = with_fresh_sensors([loaded], quiet, rng)
    np.testing.assert_allclose(bare.imu, loaded.clean_imu)
    # A dataset of the earlier format (the randomised IMU alone) counts as missing, so it is collected again.
    assert dataset_complete(path)
    record = path.with_suffix(".json")
    record.write_text(json.dumps({k: v for k, v in json.loads(record.read_text()).items() if k != "format"}))
    assert not dataset_complete(path)


def test_tracking_over_several_walks_pools_the_squared_error_and_skips_an_undefined_r():
    from distill.evaluate import pooled

    rng = np.random.default_rng(0)
    errors = [rng.normal(0.0, scale, size=500) for scale in (0.01, 0.05)]  # two equally long walks
    walks = [
        {"r": r, "rmse_nm_per_kg": float(np.sqrt(np.mean(e**2))), "peak_timing_error_pct": 2.0 * k}
        | {"teacher_peak_nm_per_kg": 0.2 + k, "profile_student_nm_per_kg": [k, 1.0]}
        for k, (r, e) in enumerate(zip([0.9, float("nan")], errors, strict=True))
    ]
    out = pooled(walks)
    assert out["rmse_nm_per_kg"] == pytest.approx(np.sqrt(np.mean(np.concatenate(errors) ** 2)))  # not the mean RMSE
    assert out["r"] == 0.9 and out["walks_r"][0] == 0.9 and np.isnan(out["walks_r"][1])
    assert out["teacher_peak_nm_per_kg"] == 1.2 and out["profile_student_nm_per_kg"] == [0.5, 1.0]


def test_smoke_distillation_writes_data_and_a_bundle_the_runtime_accepts(
    smoke_run, tmp_path, runtime_config, device_config, capsys
):
    out = tmp_path / "distill"
    config = "configs/distill/smoke.yaml"
    assert main(["distill", "--config", config, "--teacher", str(smoke_run), "--out", str(out)]) == 0
    meta = json.loads((out / "data" / "round_1.json").read_text())
    meta_0 = json.loads((out / "data" / "round_0.json").read_text())
    assert meta["driver"] == "student" and len(meta["teacher_sha256"]) == 64 and len(meta["sha256"]) == 64
    bundle = load_bundle(out / "bundle", runtime_config, device_config, trust=Trust(allow_unsigned=True))
    provenance = bundle.manifest["provenance"]
    assert provenance["onnx_parity_max_abs"] <= 1e-5
    assert provenance["datasets_sha256"]["round_1"] == meta["sha256"]  # the data it was fitted on, by hash
    assert bundle.manifest["model"]["kind"] == "streaming" and bundle.features.stream  # the default student
    assert bundle.input.shape == [1, 1, 12] and bundle.features.window == 64 and bundle.features.rate_hz == 100.0
    assert main(["bundle", "verify", str(out / "bundle"), "--allow-unsigned"]) == 0  # signing: test_signing.py
    assert '"format": "hipexo-bundle"' in capsys.readouterr().out
    figures = json.loads((out / "eval" / "eval.json").read_text())
    # each seen slope at the middle seen speed (the closed loop on every slope it learnt), then the held-out ones
    seen = [(c["speed_m_s"], c["slope_deg"]) for c in figures["conditions"] if not c["held_out"]]
    assert seen == [(1.25, 0.0), (1.25, 5.0)] and figures["conditions"][2]["held_out"]
    assert all(np.isfinite(c["rmse_nm_per_kg"]) for c in figures["conditions"])
    for c in figures["conditions"]:  # tracking over two walks with their own seeds, each walk's figures kept
        assert len(c["walks_r"]) == 2 and c["walks_rmse_nm_per_kg"][0] != c["walks_rmse_nm_per_kg"][1]
        assert c["r"] == pytest.approx(np.nanmean(c["walks_r"]))
    assert [d for d, _ in figures["robustness"]["mounting"]] == [0.0, 5.0, 10.0, 20.0]
    latency = dict(figures["robustness"]["latency"])  # each latency really worn: the same walk, other errors
    assert list(latency) == [0, 1, 2, 3] and len(set(latency.values())) == 4
    (recording,) = figures["recordings"]
    assert recording["max_abs_torque_nm"] <= recording["torque_limit_nm"] and recording["stride_hz"] > 0.5
    assert len(recording["profile_left_nm_per_kg"]) == 101 and -1.0 <= recording["left_right_r"] <= 1.0
    summary = json.loads((out / "eval" / "summary.json").read_text())
    assert set(summary) == {
        "held_out_r",
        "held_out_rmse_nm_kg",
        "retained_pct",
        "retained_pct_by_slope",
        "real_imu_lr_r",
    }
    assert list(summary["retained_pct_by_slope"]) == ["+0", "+5"]
    np.testing.assert_equal(summary["retained_pct"], summary["retained_pct_by_slope"]["+5"])  # the middle of 0, 5
    assert summary["real_imu_lr_r"] == pytest.approx(recording["left_right_r"], abs=1e-5)
    assert summary["held_out_r"] == pytest.approx(
        np.nanmean([c["r"] for c in figures["conditions"] if c["held_out"]]), abs=1e-5
    )
    report = (out / "eval" / "eval_report.md").read_text()
    assert report.startswith("# Student evaluation") and "![torque_over_gait_cycle]" in report
    assert (out / "eval" / "torque_over_gait_cycle.png").stat().st_size > 0
    held_out_r = np.nanmean([c["r"] for c in figures["conditions"] if c["held_out"]])
    np.testing.assert_equal(provenance["eval"]["r"], held_out_r)  # eval ran after export: its figures went in
    # A rerun of the training stage resumes: every round is on disk, nothing is refitted.
    before = (out / "student_round_1.pt").stat().st_mtime_ns
    assert main(["distill", "train", "--config", config, "--teacher", str(smoke_run), "--out", str(out)]) == 0
    assert (out / "student_round_1.pt").stat().st_mtime_ns == before
    # A round's model fitted on other data, and a round's data driven by another student (as after a change of
    # teacher), are made again; the rounds before them are kept.
    fitted = out / "student_round_1.json"
    fitted.write_text(json.dumps(json.loads(fitted.read_text()) | {"datasets": ["0" * 64]}))
    record = out / "data" / "round_1.json"
    record.write_text(json.dumps(json.loads(record.read_text()) | {"driven_by": ["0" * 64]}))
    kept, walked = (out / "student_round_0.pt").stat().st_mtime_ns, (out / "data" / "round_1.npz").stat().st_mtime_ns
    assert main(["distill", "train", "--config", config, "--teacher", str(smoke_run), "--out", str(out)]) == 0
    assert json.loads(record.read_text())["driven_by"] == [meta_0["sha256"]]
    assert (out / "data" / "round_1.npz").stat().st_mtime_ns != walked
    assert (out / "student_round_1.pt").stat().st_mtime_ns != before
    assert (out / "student_round_0.pt").stat().st_mtime_ns == kept
    # Round-0 walks of another teacher are never trained on: one line, exit 2.
    record = out / "data" / "round_0.json"
    record.write_text(json.dumps(meta_0 | {"teacher_sha256": "0" * 64}))
    assert main(["distill", "train", "--config", config, "--teacher", str(smoke_run), "--out", str(out)]) == 2
    assert "holds another teacher's walks" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["default", "slopes"])
def test_the_shipped_student_is_the_shipped_teachers_and_the_runtime_accepts_it(name, runtime_config, device_config):
    from firmware_bridge.config.paths import REPO_ROOT
    from teacher.training.checkpoint import checkpoint_hash

    shipped = REPO_ROOT / "models" / "student" / name
    bundle = load_bundle(shipped / "bundle", runtime_config, device_config, trust=Trust(allow_unsigned=True))
    provenance = bundle.manifest["provenance"]
    assert provenance["teacher_sha256"] == checkpoint_hash(REPO_ROOT / "models" / "teacher" / name)
    report = json.loads((shipped / "eval" / "eval.json").read_text())
    assert report["provenance"]["teacher_sha256"] == provenance["teacher_sha256"]  # the report is of this student
    np.testing.assert_equal(
        provenance["eval"]["r"], np.nanmean([c["r"] for c in report["conditions"] if c["held_out"]])
    )
