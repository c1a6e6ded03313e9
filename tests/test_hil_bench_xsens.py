"""The HIL bench speaking Xsens MTData2: three ptys, one MTi each, into a real ``hipexo run`` with an Xsens device
config. The runtime logs the readings the bench encoded, and checksum corruption, a silent IMU, NaN and an unplugged
port end in zero torque for the same reasons as over hipexo's own protocol (tests/test_hil_bench.py)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import yaml

from firmware_bridge.config import DeviceConfig, load_config
from firmware_bridge.config.paths import SHARED_DATA_DIR, default_config
from firmware_bridge.trial.channels import ACCEL, GYRO
from firmware_bridge.trial.reader import read_trial
from hil.sources import RecordingSource
from tools.cli import main

XSENS = default_config("device", "hip_exo_xsens")
RECORDING = "tum-ao-imu-walking/walk_4"
FAULTS = [
    {"type": "corrupt", "at_s": 4.0, "duration_s": 0.2, "expect": {"zero_within_s": 0.08, "rearm": True}},
    {"type": "imu_loss", "at_s": 5.5, "duration_s": 0.5, "expect": {"zero_within_s": 0.05, "rearm": True}},
    {"type": "nan", "at_s": 7.0, "duration_s": 0.2, "expect": {"zero_within_s": 0.03, "rearm": True}},
    {"type": "disconnect", "at_s": 8.5, "duration_s": 0.5, "expect": {"zero_within_s": 0.05, "rearm": True}},
]
REASONS = {  # the fault each injection must raise, as over hipexo frames
    "corrupt": "bad frames within",
    "imu_loss": "IMU stale",
    "nan": "NaN/Inf in IMU input",
    "disconnect": "serial error",
}


@pytest.fixture(scope="module")
def xsens_bench(tmp_path_factory):
    out = tmp_path_factory.mktemp("xsens_bench")
    scenario = out / "scenario.yaml"
    scenario.write_text(
        yaml.safe_dump(
            {"kind": "bench", "duration_s": 10.0, "source": {"kind": "recording", "path": RECORDING}, "faults": FAULTS}
        )
    )
    args = ["bench", "--config", str(scenario), "--device-config", str(XSENS), "--out", str(out / "report")]
    code = main([*args, "--json", str(out / "figures.json")])
    figures = json.loads((out / "figures.json").read_text())
    return code, figures, read_trial(figures["trial"]), (out / "report" / "work" / "runtime_output.txt").read_text()


def test_every_fault_zeroes_torque_and_rearms_as_over_hipexo_frames(xsens_bench):
    code, figures, log, _ = xsens_bench
    assert [f["type"] for f in figures["faults"]] == [f["type"] for f in FAULTS]
    assert all(f["passed"] for f in figures["faults"]), figures["faults"]
    assert code == 0 and figures["all_passed"]
    texts = [e["message"] for e in log.topic("/events") if e["name"] == "fault"]
    for fault, reason in REASONS.items():
        assert any(reason in t for t in texts), f"{fault}: no '{reason}' fault in {texts}"


def readings(frame: dict) -> list[dict]:
    """The readings of one ``/imu/raw`` message: one object per IMU, under the IMU's name."""
    return [value for value in frame.values() if isinstance(value, dict)]


def test_the_trial_log_holds_the_readings_the_bench_sent_as_mtdata2(xsens_bench):
    _, _, log, output = xsens_bench
    trial = log.metadata["trial"]
    assert trial["imu_protocol"] == "xsens_mtdata2"
    assert [p.split("=")[0] for p in trial["imu_port"].split(", ")] == ["pelvis", "thigh_r", "thigh_l"]
    device = load_config(XSENS, DeviceConfig)
    source = RecordingSource(SHARED_DATA_DIR / RECORDING, device, 100.0, loop=True)
    frames = [m for _, m in log.messages["/imu/raw"]]
    assert len(frames) > 2400  # ~9 s × 100 Hz × 3 MTis, less the faults
    by_imu = {r["imu_id"] for m in frames for r in readings(m)}
    assert by_imu == {0, 1, 2} and all(len(readings(m)) == 1 for m in frames)  # one MTi, one reading per frame
    nan_frames = 0
    for m in frames:
        (r,) = readings(m)
        gyro, accel = (np.float32(v) for v in source.sample(m["seq"])[r["imu_id"]])
        logged_gyro, logged_accel = (
            np.float32([math.nan if r[f] is None else r[f] for f in names]) for names in (GYRO, ACCEL)
        )
        assert np.array_equal(logged_accel, accel)
        if math.isnan(logged_gyro[0]):
            nan_frames += 1
            assert np.array_equal(logged_gyro[1:], gyro[1:])
        else:
            assert np.array_equal(logged_gyro, gyro)
    assert 30 <= nan_frames <= 90  # 0.2 s of NaN on three MTis
    assert "checksum errors" in output and "CRC" not in output  # the [link] line names this protocol's check
