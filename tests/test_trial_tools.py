"""Trial logs: inspect, export, list; a log cut short still reads; bad files get a clear error."""

from __future__ import annotations

import csv
import signal
import time
from pathlib import Path

import pytest
from device_bench import FAST_DEVICE, RuntimeUnderTest, make_bundle
from mcap.reader import make_reader

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


def test_export_writes_the_runtime_trial_as_one_table(trial, tmp_path, capsys):
    """A real runtime's log: the IMU frames it took in are in the row of the cycle that took them."""
    assert main(["trial", "export", str(trial), "--out", str(tmp_path), "--format", "csv"]) == 0
    rows = list(csv.DictReader((tmp_path / f"{trial.stem}.csv").open(encoding="utf-8")))
    assert float(rows[-1]["thigh_r.gyro_z [rad/s]"]) == pytest.approx(0.4, abs=1e-3)
    assert float(rows[-1]["thigh_l.gyro_z [rad/s]"]) == pytest.approx(-0.2, abs=1e-3)
    assert {"state", "fault", "torque_cmd_r [N·m]", "lateness [µs]"} <= set(rows[0])
    assert max(float(r["torque_cmd_r [N·m]"]) for r in rows) == pytest.approx(7.5, abs=0.01)  # inspect: +7.50


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


def chunks(path: Path) -> list[tuple[int, int, int]]:
    """(start, length, messages) of each chunk, from the file's own index."""
    with open(path, "rb") as f:
        summary = make_reader(f).get_summary()
    return [(c.chunk_start_offset, c.chunk_length, len(c.message_index_offsets)) for c in summary.chunk_indexes]


def indexed_messages(path: Path) -> list:
    with open(path, "rb") as f:
        return list(make_reader(f).iter_messages())


def damaged_copy(trial: Path, out: Path, offset: int, garbage: bytes) -> Path:
    data = bytearray(trial.read_bytes())
    data[offset : offset + len(garbage)] = garbage
    out.write_bytes(bytes(data))
    return out


@pytest.mark.parametrize("where", ["payload", "length"])
def test_a_damaged_chunk_is_skipped_and_every_chunk_after_it_is_kept(trial, tmp_path, capsys, where):
    index = chunks(trial)
    assert len(index) >= 4, "the fixture's log has several chunks"
    start, length, _ = index[len(index) // 2]
    offset = start + length // 2 if where == "payload" else start + 1  # the chunk's bytes, or its length field
    bad = damaged_copy(trial, tmp_path / "bad.mcap", offset, b"\xff" * 8)
    full, partial = read_trial(trial), read_trial(bad)
    assert partial.problems and not partial.complete
    full_cycles = [m["cycle"] for m in full.topic("/timing")]
    cycles = [m["cycle"] for m in partial.topic("/timing")]
    assert cycles[-1] == full_cycles[-1], "the chunks after the damaged one are read"
    assert 0 < len(full_cycles) - len(cycles) < len(full_cycles) / 2, "only the damaged chunk is lost"
    assert main(["trial", "inspect", str(bad)]) == 0
    captured = capsys.readouterr()
    assert "warning" in captured.err and "damaged" in captured.err and "trial recover" in captured.err
    assert main(["trial", "recover", str(bad)]) == 0
    recovered = tmp_path / "bad.recovered.mcap"
    assert chunks(recovered), "an indexed file"
    messages = indexed_messages(recovered)
    assert len(messages) == sum(len(v) for v in partial.messages.values())
    log = read_trial(recovered)
    assert log.complete and not log.problems and log.metadata["trial"]["subject_id"] == "S01"
    assert [m["cycle"] for m in log.topic("/timing")] == cycles


def test_a_cut_short_log_recovers_into_an_indexed_one(trial, tmp_path, capsys):
    data = trial.read_bytes()
    cut = tmp_path / "cut.mcap"
    cut.write_bytes(data[: int(len(data) * 0.7)])
    assert main(["trial", "recover", str(cut), "--out", str(tmp_path / "fixed.mcap")]) == 0
    assert "recovered" in capsys.readouterr().out
    fixed = read_trial(tmp_path / "fixed.mcap")
    assert fixed.complete and chunks(tmp_path / "fixed.mcap")
    assert len(fixed.topic("/timing")) == len(read_trial(cut).topic("/timing")) > 0
    assert main(["trial", "recover", str(cut), "--out", str(cut)]) == 2
