"""The recording readers: TUM folders, Xsens MT Manager exports (tests/data/xsens, written as the vendor documents
them) and CSV files with a column map. Each reads SI units on one clock; a bad file is one line naming it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from synthetic_gait import imu_readings

from firmware_bridge.config import ConfigError
from firmware_bridge.config.paths import SHARED_DATA_DIR
from firmware_bridge.mounting import mounting_matrix
from recordings import RecordingError, open_recording

FIXTURES = Path(__file__).parent / "data" / "xsens"
sys.path.insert(0, str(FIXTURES))
from make_fixtures import MOUNTINGS, RATE_HZ  # noqa: E402
from make_fixtures import main as make_fixtures  # noqa: E402


def truth(fixture: str, name: str) -> dict[str, np.ndarray]:
    return imu_readings(name, MOUNTINGS[fixture][name], RATE_HZ, noise=1.0)


def test_the_committed_fixtures_are_what_the_generator_writes(tmp_path):
    make_fixtures(tmp_path)
    for path in sorted(FIXTURES.glob("*/*")):
        assert (tmp_path / path.relative_to(FIXTURES)).read_bytes() == path.read_bytes(), path


def test_a_tum_folder_reads_as_three_imus_in_rad_per_s():
    recording = open_recording(SHARED_DATA_DIR / "tum-ao-imu-walking" / "walk_4")
    assert recording.format == "tum" and sorted(recording.imus) == ["pelvis", "thigh_l", "thigh_r"]
    thigh = recording.imus["thigh_r"]
    assert 3.0 < np.abs(thigh.gyro).max() < 15.0, "walking thigh gyro peaks at a few rad/s, not hundreds of deg/s"
    assert np.linalg.norm(thigh.accel, axis=1).mean() == pytest.approx(9.8, abs=0.5)


def test_xsens_sensors_are_aligned_on_packet_counters_not_rows():
    """The three exports start 0, 2 and 5 packets into the walk, the counter wraps at 65536 in all of them and the
    pelvis lost packet 400: sample n of the common grid is the same instant for every sensor."""
    recording = open_recording(FIXTURES / "acc_gyr_mat")
    assert recording.format == "xsens"
    names = ("pelvis", "thigh_r", "thigh_l")
    data = recording.resampled(names, RATE_HZ)
    for k, name in enumerate(names):
        expected = truth("acc_gyr_mat", name)
        gyro = expected["gyro"][5 : 5 + len(data)]  # the grid starts where the latest sensor starts: packet 5
        near_loss = np.abs(np.arange(5, 5 + len(data)) - 400) <= 1
        assert np.abs(data[~near_loss, k, :3] - gyro[~near_loss]).max() < 2e-6, name
        assert np.abs(data[:, k, 3:] - expected["accel"][5 : 5 + len(data)]).max() < 0.5, name


def test_xsens_quaternion_export_takes_its_rate_from_sample_time_fine():
    recording = open_recording(FIXTURES / "quat")
    thigh = recording.imus["thigh_l"]
    assert np.median(np.diff(thigh.time_s)) == pytest.approx(1.0 / RATE_HZ, rel=1e-9)
    assert np.abs(thigh.gyro - truth("quat", "thigh_l")["gyro"]).max() < 2e-6


def test_orientation_only_export_derives_the_sensor_frame_angular_velocity():
    recording = open_recording(FIXTURES / "orientation_only")
    thigh = recording.imus["thigh_r"]
    expected = truth("orientation_only", "thigh_r")
    exact = expected["gyro_segment"] @ mounting_matrix(MOUNTINGS["orientation_only"]["thigh_r"])
    error = thigh.gyro - exact
    assert np.sqrt(np.mean(error**2)) < 0.02 and np.abs(error).max() < 0.1, "rad/s, against peaks of ~3 rad/s"


def _broken_copy(tmp_path: Path, edit) -> Path:
    folder = tmp_path / "rec"
    shutil.copytree(FIXTURES / "acc_gyr_mat", folder)
    path = folder / "MT_012005D6_000-000_00B42D4E.txt"  # thigh_r
    lines = path.read_text().splitlines()
    path.write_text("\n".join(edit(lines)) + "\n")
    return folder


def _replace_field(lines: list[str], line: int, column: str, value: str) -> list[str]:
    header = lines[5].split("\t")
    fields = lines[line - 1].split("\t")
    fields[header.index(column)] = value
    return [*lines[: line - 1], "\t".join(fields), *lines[line:]]


def _drop_column(lines: list[str], column: str) -> list[str]:
    index = lines[5].split("\t").index(column)
    return [*lines[:5], *("\t".join(f for k, f in enumerate(line.split("\t")) if k != index) for line in lines[5:])]


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda ls: _replace_field(ls, 20, "Acc_Y", "NaN"), r"00B42D4E.txt:20: Acc_Y is 'NaN', not a finite number"),
        (lambda ls: _replace_field(ls, 20, "Gyr_Z", ""), r"00B42D4E.txt:20: Gyr_Z is empty, not a finite number"),
        (lambda ls: _drop_column(ls, "Acc_Z"), r"00B42D4E.txt:6: no accelerometer column\(s\) \['Acc_Z'\]"),
        (
            lambda ls: _replace_field(ls, 30, "PacketCounter", ls[28].split("\t")[0]),
            r"00B42D4E.txt:30: PacketCounter 65224 after 65224 does not increase",
        ),
        (
            lambda ls: _replace_field(ls, 30, "PacketCounter", "65000"),
            r"00B42D4E.txt:30: PacketCounter 65000 after 65224 does not increase",
        ),
        (lambda ls: [*ls[:100], *ls[120:]], r"00B42D4E.txt:101: 0.21 s of samples missing before PacketCounter"),
        (
            lambda ls: [*ls[:5], ls[5].replace("Gyr_X", "GyrX").replace("Mat[1][1]", "Mat11"), *ls[6:]],
            r"00B42D4E.txt:6: no Gyr_X/Y/Z and no orientation",
        ),
        (lambda ls: [line for line in ls if "Update Rate" not in line], r"00B42D4E.txt: no sample rate"),
    ],
    ids=[
        "nan",
        "empty",
        "missing-column",
        "counter-repeats",
        "counter-goes-back",
        "gap",
        "no-gyro-no-orientation",
        "no-rate",
    ],
)
def test_a_bad_xsens_export_is_one_error_naming_the_file_line_and_problem(tmp_path, edit, expected):
    with pytest.raises(RecordingError, match=expected):
        open_recording(_broken_copy(tmp_path, edit))


def test_a_crlf_export_reads_the_same(tmp_path):
    folder = tmp_path / "rec"
    shutil.copytree(FIXTURES / "quat", folder)
    for path in folder.glob("*.txt"):
        path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    a, b = open_recording(folder), open_recording(FIXTURES / "quat")
    assert np.array_equal(a.imus["thigh_r"].gyro, b.imus["thigh_r"].gyro)


def _csv_recording(tmp_path: Path, map_extra: str = "", edit=lambda text: text) -> Path:
    """Both thighs in one CSV: time in ms, gyro in deg/s, accel in g, with a column map."""
    right, left = (truth("quat", name) for name in ("thigh_r", "thigh_l"))
    rows = ["time_ms,gx_r,gy_r,gz_r,ax_r,ay_r,az_r,gx_l,gy_l,gz_l,ax_l,ay_l,az_l"]
    for k, t in enumerate(right["time_s"]):
        values = [*np.degrees(right["gyro"][k]), *(right["accel"][k] / 9.80665)]
        values += [*np.degrees(left["gyro"][k]), *(left["accel"][k] / 9.80665)]
        rows.append(",".join([f"{1000 * t:.1f}", *(f"{v:.7f}" for v in values)]))
    (tmp_path / "walk.csv").write_text(edit("\n".join(rows) + "\n"))
    (tmp_path / "walk.yaml").write_text(
        "kind: recording\nfile: walk.csv\ntime_column: time_ms\ntime_unit: ms\ngyro_unit: deg/s\naccel_unit: g\n"
        "imus:\n"
        "  thigh_r: {gyro: [gx_r, gy_r, gz_r], accel: [ax_r, ay_r, az_r]}\n"
        "  thigh_l: {gyro: [gx_l, gy_l, gz_l], accel: [ax_l, ay_l, az_l]}\n" + map_extra
    )
    return tmp_path / "walk.yaml"


def test_a_csv_with_a_column_map_reads_in_si_units(tmp_path):
    recording = open_recording(_csv_recording(tmp_path))
    assert recording.format == "csv"
    expected = truth("quat", "thigh_l")
    assert np.abs(recording.imus["thigh_l"].gyro - expected["gyro"]).max() < 1e-6
    assert np.abs(recording.imus["thigh_l"].accel - expected["accel"]).max() < 1e-5
    assert recording.imus["thigh_l"].time_s[1] == pytest.approx(0.01)


def test_a_bad_csv_or_column_map_is_named(tmp_path):
    renamed = _csv_recording(tmp_path, edit=lambda text: text.replace("gz_r", "gzr", 1))
    with pytest.raises(
        RecordingError, match=r"walk.csv: no column 'gz_r' for thigh_r.gyro in the header \(did you mean 'gzr'\?\)"
    ):
        open_recording(renamed)

    def nan_on_line_4(text: str) -> str:
        lines = text.splitlines()
        fields = lines[3].split(",")
        fields[8] = "nan"  # gy_l
        return "\n".join([*lines[:3], ",".join(fields), *lines[4:]]) + "\n"

    with pytest.raises(RecordingError, match=r"walk.csv:4: gy_l is 'nan', not a finite number"):
        open_recording(_csv_recording(tmp_path, edit=nan_on_line_4))
    path = _csv_recording(tmp_path)
    path.write_text(path.read_text().replace("time_column: time_ms\n", "") + "format: csv\n")
    with pytest.raises(ConfigError, match=r"time_column: give the time column, or rate_hz when there is none"):
        open_recording(path)
    path.write_text(path.read_text().replace("gyro_unit: deg/s", "gyro_unit: dps"))
    with pytest.raises(ConfigError, match=r"gyro_unit: must be one of \['rad/s', 'deg/s'\] \(got 'dps'\)"):
        open_recording(path)


def test_a_path_that_is_not_a_recording_says_what_is_read(tmp_path):
    (tmp_path / "notes.txt").write_text("hello\n")
    with pytest.raises(RecordingError, match="not a recording hipexo reads: give a TUM folder or a recording map"):
        open_recording(tmp_path / "notes.txt")
    with pytest.raises(RecordingError, match="no such recording"):
        open_recording(tmp_path / "absent")


def test_the_bench_on_a_broken_xsens_export_prints_one_line_and_exits_2(tmp_path):
    folder = _broken_copy(tmp_path, lambda ls: _replace_field(ls, 20, "Acc_Y", "NaN"))
    (tmp_path / "scenario.yaml").write_text(
        f"kind: bench\nduration_s: 2.0\nsource: {{kind: recording, path: {folder}, alignment: raw}}\nfaults: []\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "tools.cli", "bench", "--scenario", "scenario.yaml", "--out", "out"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "00B42D4E.txt:20: Acc_Y is 'NaN', not a finite number" in result.stderr.strip().splitlines()[-1]


def test_the_bench_source_streams_an_xsens_recording_raw_or_in_segment_frames(device_config):
    from hil.sources import RecordingSource

    raw = RecordingSource(FIXTURES / "acc_gyr_mat", device_config, RATE_HZ, loop=False, alignment="raw")
    aligned = RecordingSource(FIXTURES / "acc_gyr_mat", device_config, RATE_HZ, loop=False)
    expected = truth("acc_gyr_mat", "thigh_r")
    walk = slice(300, len(raw.data))  # the walk, after the stand
    assert np.abs(raw.data[walk, 1, :3] - expected["gyro"][5:][walk]).max() < 2e-6, "sensor frame, as recorded"
    flexion = expected["gyro_segment"][5:, 2][walk]
    assert np.corrcoef(aligned.data[walk, 1, 2], flexion)[0, 1] > 0.99, "segment z is flexion, positive in swing"
    assert sorted(raw.sample(0)) == [0, 1, 2] and raw.sample(len(raw.data)) is None
