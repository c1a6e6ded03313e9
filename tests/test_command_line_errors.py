"""What ends a command is one line and an exit code: user errors (2), internal errors (3), interrupts (128 + signal);
output folders the command did not make are never deleted; bad IMU recordings are named, never a traceback."""

from __future__ import annotations

import gzip
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from firmware_bridge import atomic
from firmware_bridge.config.paths import REPO_ROOT
from hil.sources import RecordingSource
from recordings import RecordingError
from tools.cli import main
from tools.extras import extra_providing
from tools.output_dir import MARKER, fresh_output_dir

HEADER = "time\t" + "\t".join(f"{s}_{a}" for s in ("Pelvis", "UppLeg", "LowLeg", "Foot") for a in "xyz")


def hipexo(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tools.cli", *args], cwd=cwd, capture_output=True, text=True)


def test_demo_refuses_a_non_empty_folder_it_did_not_make_and_deletes_nothing(tmp_path, capsys):
    mine = tmp_path / "thesis"
    mine.mkdir()
    (mine / "chapter1.tex").write_text("precious")
    assert main(["demo", "--out", str(mine)]) == 2
    err = capsys.readouterr().err
    assert f"--out {mine}" in err and "nothing was deleted" in err and len(err.strip().splitlines()) == 1
    assert (mine / "chapter1.tex").read_text() == "precious"


def test_an_output_folder_is_reused_only_by_the_command_that_made_it(tmp_path):
    out = fresh_output_dir(tmp_path / "demo", "demo")
    (out / "old_result.txt").write_text("from the last demo")
    assert fresh_output_dir(out, "demo") == out and not (out / "old_result.txt").exists()
    assert (out / MARKER).read_text().strip() == "demo"
    (out / "x").write_text("")
    with pytest.raises(Exception, match="not made by 'hipexo bench'"):
        fresh_output_dir(out, "bench")
    assert (out / "x").exists()


def test_relative_paths_are_made_absolute_at_the_front_door(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.yaml").write_text("kind: device\n")
    assert main(["config", "validate", "bad.yaml"]) == 1
    assert str(tmp_path / "bad.yaml") in capsys.readouterr().err


def test_an_internal_error_exits_3_with_the_traceback_and_one_summary_line(monkeypatch, capsys):
    def broken(args):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr("tools.cli.build_parser", lambda: _parser_calling(broken))
    assert main(["whatever"]) == 3
    err = capsys.readouterr().err
    assert "Traceback" in err
    assert err.strip().splitlines()[-1].startswith("hipexo: error: internal error: ZeroDivisionError: a bug")


def _parser_calling(func):
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("name")
    parser.set_defaults(func=func)
    return parser


def test_missing_modules_map_to_the_extra_that_provides_them():
    assert extra_providing("torch") == "train"
    assert extra_providing("stable_baselines3.common") == "train"
    assert extra_providing("ray") == "cluster"
    assert extra_providing("numpy") is None  # a base dependency: its absence is not a missing extra


# --- atomic writes ------------------------------------------------------------------------------------


def test_an_interrupted_atomic_write_leaves_the_previous_file_and_no_partial_one(tmp_path):
    path = tmp_path / "round_0.npz"
    atomic.write_bytes(path, b"complete")
    with pytest.raises(KeyboardInterrupt), atomic.atomic_file(path) as tmp:
        tmp.write_bytes(b"half")
        raise KeyboardInterrupt
    assert path.read_bytes() == b"complete" and sorted(p.name for p in tmp_path.iterdir()) == ["round_0.npz"]


def test_an_interrupted_folder_write_leaves_the_previous_folder_whole(tmp_path):
    bundle = tmp_path / "bundle"
    with atomic.atomic_folder(bundle) as staging:
        (staging / "manifest.json").write_text("{}")
    with pytest.raises(KeyboardInterrupt), atomic.atomic_folder(bundle) as staging:
        (staging / "student.onnx").write_text("half")
        raise KeyboardInterrupt
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle"]
    assert sorted(p.name for p in bundle.iterdir()) == ["manifest.json"]
    with atomic.atomic_folder(bundle) as staging:
        (staging / "student.onnx").write_text("new")
    assert sorted(p.name for p in bundle.iterdir()) == ["student.onnx"]


# --- bad IMU recordings ---------------------------------------------------------------------------------


def _recording(folder: Path, rows: dict[str, list[str]] | None = None) -> Path:
    """A TUM-format recording: 200 rows of walking-like data, with ``rows`` replacing a file's body."""
    import numpy as np

    folder.mkdir(parents=True, exist_ok=True)
    t = np.arange(200) / 100.0
    for kind in ("Gyroscopes", "Accelerometers"):
        for side in ("left", "right"):
            name = f"{kind}_{side}.txt.gz"
            body = [
                f"00:00:{s:09.6f}\t"
                + "\t".join(
                    f"{(9.8 if (k % 3 == 1 and kind == 'Accelerometers') else 0.0) + np.sin(6 * s + k):.4f}"
                    for k in range(12)
                )
                for s in t
            ]
            lines = [HEADER, *(rows or {}).get(name, body)]
            with gzip.open(folder / name, "wt") as f:
                f.write("\n".join(lines) + "\n")
    return folder


def test_a_good_synthetic_recording_loads(tmp_path, device_config):
    source = RecordingSource(_recording(tmp_path / "rec"), device_config, loop=False)
    assert source.samples > 100


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        (
            ["00:00:00.000000\t" + "\t".join(["nan"] * 12)] * 3,
            r"Gyroscopes_left.txt.gz:2: value 'nan' is not a finite number",
        ),
        (
            ["00:00:00.000000\t1\t2\t3"] * 3,
            r"Gyroscopes_left.txt.gz:2: expected 13 tab-separated fields .* got 4: missing",
        ),
        (
            [f"00:00:0{s}.000000\t" + "\t".join(["0.1"] * 12) for s in (1, 2, 2, 3)],
            r"Gyroscopes_left.txt.gz:4: time 00:00:02.000000 does not increase",
        ),
        ([], r"Gyroscopes_left.txt.gz: fewer than two samples"),
    ],
    ids=["nan", "missing-columns", "time-not-increasing", "no-rows"],
)
def test_a_bad_recording_is_one_error_naming_the_file_and_the_problem(tmp_path, device_config, rows, expected):
    folder = _recording(tmp_path / "rec", {"Gyroscopes_left.txt.gz": rows})
    with pytest.raises(RecordingError, match=expected):
        RecordingSource(folder, device_config)


def test_an_empty_or_truncated_recording_file_is_named(tmp_path, device_config):
    folder = _recording(tmp_path / "rec")
    (folder / "Gyroscopes_left.txt.gz").write_bytes(gzip.compress(b""))
    with pytest.raises(RecordingError, match="Gyroscopes_left.txt.gz: empty file"):
        RecordingSource(folder, device_config)
    (folder / "Gyroscopes_left.txt.gz").write_bytes(gzip.compress(b"time\n00:00:00\t1")[:20])
    with pytest.raises(RecordingError, match="Gyroscopes_left.txt.gz: cannot read"):
        RecordingSource(folder, device_config)


def test_the_bench_on_a_recording_with_nans_prints_one_line_and_exits_2(tmp_path):
    rows = ["00:00:00.000000\t" + "\t".join(["nan"] * 12)] * 3
    folder = _recording(tmp_path / "rec", {"Accelerometers_right.txt.gz": rows})
    (tmp_path / "scenario.yaml").write_text(
        f"kind: bench\nduration_s: 2.0\nsource: {{kind: recording, path: {folder}}}\nfaults: []\n"
    )
    result = hipexo("bench", "--config", "scenario.yaml", "--out", "out", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "Accelerometers_right.txt.gz:2: value 'nan' is not a finite number" in result.stderr.strip().splitlines()[-1]


# --- Ctrl-C on distillation ---------------------------------------------------------------------------------


def test_ctrl_c_on_distill_stops_it_without_a_traceback_or_a_partial_dataset(tmp_path):
    import os
    import time

    out = tmp_path / "distill"
    # Long enough that no machine finishes collecting before the signal: 8 rollouts of 20 s.
    config = tmp_path / "long_collect.yaml"
    config.write_text(
        f"kind: distill\nextends: {REPO_ROOT / 'configs/distill/smoke.yaml'}\n"
        "speeds_m_s: [0.8, 1.0, 1.25, 1.5]\nepisode_s: 20.0\n"
    )
    command = [sys.executable, "-m", "tools.cli", "distill", "collect", "--config", str(config)]
    command += ["--teacher", str(REPO_ROOT / "models/teacher/default"), "--out", str(out), "--workers", "2"]
    process = subprocess.Popen(
        command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    time.sleep(6.0)  # the rollouts run in worker processes by now
    assert process.poll() is None, process.communicate()[0]
    sent = time.monotonic()
    os.killpg(process.pid, signal.SIGINT)
    output, _ = process.communicate(timeout=30)
    assert time.monotonic() - sent < 5.0
    assert process.returncode == 130, output
    assert "Traceback" not in output and "KeyboardInterrupt" not in output, output
    assert output.strip().splitlines()[-1] == "hipexo: interrupted (SIGINT): stopped"
    assert not (out / "data").exists() or not any((out / "data").iterdir())
