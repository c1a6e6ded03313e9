"""Mounting calibration: known sensor mountings recovered from a stand + walk (synthetic and Xsens exports), written
into the subject config by ``hipexo calibrate``, and undone by the real runtime so the student sees the nominal
frame."""

from __future__ import annotations

import json
import math
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from synthetic_gait import imu_readings

from firmware_bridge.config import ConfigError, SubjectConfig, build, load_config
from firmware_bridge.features import FeatureSpec, FeatureWindow
from firmware_bridge.mounting import mounting_corrections, mounting_matrix, mounting_rpy_deg
from recordings import ImuStream, Recording, RecordingError, calibrate, open_recording
from tools.cli import main

FIXTURES = Path(__file__).parent / "data" / "xsens"
sys.path.insert(0, str(FIXTURES))
from make_fixtures import MOUNTINGS  # noqa: E402

UP = np.array([0.0, 1.0, 0.0])


def angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    """The angle of the rotation between two rotation matrices."""
    return math.degrees(math.acos(np.clip((np.trace(a.T @ b) - 1.0) / 2.0, -1.0, 1.0)))


def synthetic(mountings: dict[str, list[float]], rate_hz: float = 100.0, **kwargs) -> Recording:
    imus = {}
    for name, rpy in mountings.items():
        r = imu_readings(name, rpy, rate_hz, noise=1.0, **kwargs)
        imus[name] = ImuStream(r["time_s"], r["gyro"], r["accel"], f"synthetic {name}")
    return Recording(Path("synthetic"), "synthetic", imus)


def test_rpy_degrees_round_trip_through_the_rotation():
    for rpy in ([10.0, -20.0, 30.0], [-170.0, 80.0, 5.0], [0.0, 0.0, -90.0]):
        assert mounting_rpy_deg(mounting_matrix(rpy)) == pytest.approx(rpy, abs=1e-9)


@pytest.mark.parametrize(
    "mountings",
    [
        {"thigh_r": [0.0, 0.0, 0.0], "thigh_l": [0.0, 0.0, 0.0], "pelvis": [0.0, 0.0, 0.0]},
        {"thigh_r": [25.0, -40.0, 75.0], "thigh_l": [-120.0, 15.0, 160.0], "pelvis": [-8.0, 0.0, 12.0]},
    ],
    ids=["nominal", "rotated"],
)
def test_a_known_mounting_is_recovered_from_a_synthetic_stand_and_walk_within_3_degrees(device_config, mountings):
    estimates = calibrate(synthetic(mountings), device_config)
    for name in ("thigh_r", "thigh_l"):
        assert angle_deg(estimates[name].rotation, mounting_matrix(mountings[name])) < 3.0, name
    pelvis = estimates["pelvis"]  # up from the stand; its heading about the vertical is not observable
    true_up = mounting_matrix(mountings["pelvis"]).T @ UP
    assert math.degrees(math.acos(np.clip(pelvis.rotation.T @ UP @ true_up, -1, 1))) < 3.0


@pytest.mark.parametrize("fixture", sorted(MOUNTINGS))
def test_known_mountings_are_recovered_from_the_xsens_exports(device_config, fixture):
    estimates = calibrate(open_recording(FIXTURES / fixture), device_config)
    assert sorted(estimates) == sorted(MOUNTINGS[fixture])
    for name, rpy in MOUNTINGS[fixture].items():
        assert angle_deg(estimates[name].rotation, mounting_matrix(rpy)) < 3.0, name


def test_a_recording_without_a_stand_or_a_walk_is_refused_with_what_to_record(device_config):
    with pytest.raises(
        RecordingError, match="thigh_r: no still stand of 1 s .* start the recording with the subject standing still"
    ):
        calibrate(synthetic({"thigh_r": [0.0, 0.0, 0.0]}, stand_s=0.0, walk_s=6.0), device_config)
    with pytest.raises(RecordingError, match=r"thigh_r: only 0.\d s of walking .* record at least 3 s"):
        calibrate(synthetic({"thigh_r": [0.0, 0.0, 0.0]}, stand_s=2.0, walk_s=1.0), device_config)


def _subject_file(tmp_path: Path) -> Path:
    path = tmp_path / "subject.yaml"
    path.write_text(
        "# Participant P07, session 2.\nkind: subject\nsubject_id: P07\nbody_mass_kg: 68.0\nheight_m: 1.7\n"
    )
    return path


def test_calibrate_writes_the_mounting_into_the_subject_config_and_a_rerun_replaces_it(tmp_path, capsys):
    subject = _subject_file(tmp_path)
    assert main(["calibrate", str(FIXTURES / "acc_gyr_mat"), "--subject", str(subject)]) == 0
    first = subject.read_text()
    assert first.startswith("# Participant P07, session 2.\nkind: subject\n"), "the rest of the file is kept"
    config = load_config(subject, SubjectConfig)
    for name, rpy in MOUNTINGS["acc_gyr_mat"].items():
        assert angle_deg(mounting_matrix(config.imu_mounting[name].rpy_deg), mounting_matrix(rpy)) < 3.0
        assert config.imu_mounting[name].source.startswith("hipexo calibrate acc_gyr_mat")
    assert "thigh_r  rpy_deg [" in capsys.readouterr().out
    out = tmp_path / "other.yaml"
    assert main(["calibrate", str(FIXTURES / "quat"), "--subject", str(subject), "--out", str(out)]) == 0
    assert subject.read_text() == first, "--out leaves the subject file alone"
    text = out.read_text()
    assert text.count("imu_mounting:") == 1 and text.count("# Measured sensor-to-segment") == 1
    assert sorted(load_config(out, SubjectConfig).imu_mounting) == ["thigh_l", "thigh_r"], "replaced, not merged"


def test_calibrate_on_a_bad_recording_is_one_line_and_exit_2(tmp_path, capsys):
    folder = tmp_path / "rec"
    shutil.copytree(FIXTURES / "orientation_only", folder)
    (folder / "recording.yaml").write_text(
        (folder / "recording.yaml").read_text().replace("rate_hz: 100", "rate_hz: -1")
    )
    subject = _subject_file(tmp_path)
    assert main(["calibrate", str(folder), "--subject", str(subject)]) == 2
    err = capsys.readouterr().err
    assert "recording.yaml: invalid configuration" in err and "rate_hz: must be > 0.0 (got -1)" in err
    assert "Traceback" not in err and "imu_mounting" not in subject.read_text()


def test_a_subject_calibration_is_validated_against_the_device(device_config):
    subject = build(
        SubjectConfig, {"body_mass_kg": 70.0, "height_m": 1.7, "imu_mounting": {"shank_r": {"rpy_deg": [0, 0, 0]}}}
    )
    with pytest.raises(
        ConfigError, match=r"P.yaml: invalid configuration\n  imu_mounting.shank_r: device 'hip-exo' has no IMU"
    ):
        mounting_corrections(device_config, subject, "P.yaml")
    with pytest.raises(ConfigError, match=r"imu_mounting.thigh_r.rpy_deg: must have exactly 3 items"):
        build(SubjectConfig, {"body_mass_kg": 70.0, "height_m": 1.7, "imu_mounting": {"thigh_r": {"rpy_deg": [1, 2]}}})
    with pytest.raises(ConfigError, match=r"imu_mounting.thigh_r.rpy_deg: each angle must be within \[-180, 180\]"):
        build(
            SubjectConfig,
            {"body_mass_kg": 70.0, "height_m": 1.7, "imu_mounting": {"thigh_r": {"rpy_deg": [1, 2, 270]}}},
        )


def test_the_feature_window_undoes_the_calibrated_mounting(device_config):
    """Readings in a rotated sensor frame, through a window built with the calibration, equal the nominal ones."""
    rpy = {"thigh_r": [25.0, -40.0, 75.0], "thigh_l": [-120.0, 15.0, 160.0]}
    subject = build(
        SubjectConfig,
        {"body_mass_kg": 70.0, "height_m": 1.7, "imu_mounting": {n: {"rpy_deg": r} for n, r in rpy.items()}},
    )
    channels = tuple(f"{imu}.{q}_{a}" for imu in ("thigh_r", "thigh_l") for q in ("gyro", "accel") for a in "xyz")
    spec = FeatureSpec(channels, 4, 100.0, (0.0,) * 12, (1.0,) * 12)
    calibrated = FeatureWindow(spec, device_config.imu_ids(), mounting_corrections(device_config, subject))
    nominal, uncalibrated = FeatureWindow(spec, device_config.imu_ids()), FeatureWindow(spec, device_config.imu_ids())
    rng = np.random.default_rng(0)
    for _ in range(6):
        segment = rng.normal(size=(2, 2, 3))  # (imu, gyro|accel, xyz) in the segment (= nominal sensor) frame
        sensor = np.stack([segment[k] @ mounting_matrix(rpy[n]) for k, n in enumerate(("thigh_r", "thigh_l"))])
        calibrated.push_raw(sensor.reshape(-1))
        uncalibrated.push_raw(sensor.reshape(-1))
        nominal.push_raw(segment.reshape(-1))
    assert np.allclose(calibrated.tensor(), nominal.tensor(), atol=1e-6)
    assert not np.allclose(uncalibrated.tensor(), nominal.tensor(), atol=0.1)


def test_the_runtime_with_a_calibrated_subject_commands_as_if_the_sensors_sat_nominally(bench):
    """A real ``hipexo run``: the thighs' sensors are mounted rotated and stream their own frames; the test
    student's command is each thigh's gyro z in the segment frame, which only the calibration recovers."""
    rpy = {"thigh_r": [30.0, -50.0, 70.0], "thigh_l": [-100.0, 20.0, 140.0]}
    run = bench(subject={"imu_mounting": {n: {"rpy_deg": r, "source": "test"} for n, r in rpy.items()}})
    for imu_id, name, rate in ((1, "thigh_r", 0.4), (2, "thigh_l", -0.2)):
        m = mounting_matrix(rpy[name])
        run.values[imu_id] = (tuple(m.T @ [0.0, 0.0, rate]), tuple(m.T @ [0.0, 9.81, 0.0]))
    run.wait_for(run.assisting, 10, "assistance")
    time.sleep(0.4)  # past the soft start
    command = run.commands()[-1][1]
    assert command.right_nm == pytest.approx(0.4 * 0.25 * 75, rel=1e-2)
    assert command.left_nm == pytest.approx(-0.2 * 0.25 * 75, rel=1e-2)
    run.signal(15)
    assert run.finish() == 0
    logged = json.loads(run.log().metadata["subject"]["imu_mounting"])
    assert logged == rpy
    assert (
        yaml.safe_load(run.log().metadata["config_subject"]["yaml"])["imu_mounting"]["thigh_r"]["rpy_deg"]
        == rpy["thigh_r"]
    )
