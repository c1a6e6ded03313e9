"""Trial logs: inspect, export, list; a log cut short still reads; bad files get a clear error."""

from __future__ import annotations

import csv
import signal
import time

import pytest
from device_bench import FAST_DEVICE, RuntimeUnderTest, make_bundle

from firmware_bridge.trial.reader import TrialLogError, read_trial
from tools.cli import main


@pytest.fixture(scope="module")
def trial(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("trial")
    run = RuntimeUnderTest(
        tmp,
        make_bundle(tmp / "bundle", device=FAST_DEVICE),
        subject={"subject_id": "S01"},
        extra_args=("--subject-id", "S01", "--condition", "bench"),
    )
    try:
        run.set_gyro_z(0.4, -0.2)
        run.wait_for(run.assisting, 10, "assistance")
        time.sleep(1.2)  # full assistance, and several flushed chunks in the file
        run.signal(signal.SIGTERM)
        assert run.finish() == 0
    finally:
        run.close()
    (path,) = run.trial_dir.glob("*.mcap")
    return path


def test_inspect_prints_the_summary(trial, capsys):
    assert main(["trial", "inspect", str(trial)]) == 0
    out = capsys.readouterr().out
    assert "subject_id  S01" in out and "condition   bench" in out
    assert "cycles" in out and "overruns" in out and "faults      0" in out
    assert "right +0.00 … +7.50 N·m" in out


def test_export_writes_a_csv_per_channel(trial, tmp_path, capsys):
    assert main(["trial", "export", str(trial), "--csv", str(tmp_path / "csv")]) == 0
    names = {p.name for p in (tmp_path / "csv").iterdir()}
    assert {"imu_raw.csv", "torque_shaped.csv", "motor_command.csv", "timing.csv", "events.csv"} <= names
    rows = list(csv.DictReader((tmp_path / "csv" / "imu_raw.csv").open()))
    assert float(rows[-1]["readings.1.gyro.2"]) == pytest.approx(0.4, abs=1e-3)
    timing = list(csv.DictReader((tmp_path / "csv" / "timing.csv").open()))
    assert {"lateness_us", "read_us", "infer_us", "write_us", "log_us"} <= set(timing[0])


def test_list_catalogues_and_flags_unreadable_files(trial, tmp_path, capsys):
    folder = trial.parent
    (folder / "broken.mcap").write_bytes(b"not an mcap file")
    try:
        assert main(["trial", "list", str(folder)]) == 0
    finally:
        (folder / "broken.mcap").unlink()
    out = capsys.readouterr().out
    assert "S01\tbench" in out and "UNREADABLE" in out


def test_a_log_cut_mid_record_reads_up_to_the_cut(trial, tmp_path):
    data = trial.read_bytes()
    cut = tmp_path / "cut.mcap"
    cut.write_bytes(data[: len(data) // 2])
    full, partial = read_trial(trial), read_trial(cut)
    assert full.complete and not partial.complete
    assert 0 < len(partial.messages["/timing"]) < len(full.messages["/timing"])


def test_not_a_trial_log_is_a_clear_error(tmp_path, capsys):
    bad = tmp_path / "x.mcap"
    bad.write_bytes(b"\x00" * 100)
    with pytest.raises(TrialLogError, match="not a readable MCAP trial log"):
        read_trial(bad)
    assert main(["trial", "inspect", str(tmp_path / "missing.mcap")]) == 2
    assert "no such trial log" in capsys.readouterr().err
