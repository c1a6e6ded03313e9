"""The bench supervises the runtime it starts, and stops like any command on Ctrl-C or SIGTERM.

Real processes, real signals to process groups (as a terminal's Ctrl-C and ``systemctl stop`` send them), real
ptys. Each bench runs from a folder outside the repository with a relative ``--out``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from firmware_bridge.trial.reader import read_trial

SCENARIO = """kind: bench
duration_s: 30.0
imu_rate_hz: 100.0
source: {kind: recording, path: tum-ao-imu-walking/walk_4}
emulator: {watchdog_s: 0.05, tau_s: 0.01, limit_nm: 40.0}
faults: []
"""


def _runtime_of(bench_pid: int) -> int | None:
    """The pid of the ``hipexo run`` child of the bench, if it is running."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue
        if ppid == bench_pid and b"run" in command and b"tools.cli" in command:
            return int(entry.name)
    return None


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _start_bench(folder: Path) -> tuple[subprocess.Popen, int]:
    """A bench in its own process group, started as a script's background job is (SIGINT ignored), running
    from ``folder``; returns it and its runtime's pid once the runtime is logging."""
    (folder / "scenario.yaml").write_text(SCENARIO)
    bench = subprocess.Popen(
        [sys.executable, "-m", "tools.cli", "bench", "--config", "scenario.yaml", "--out", "out"],
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    deadline = time.monotonic() + 60
    while not list((folder / "out" / "work" / "trials").glob("*.mcap")):
        assert bench.poll() is None and time.monotonic() < deadline, bench.communicate()[0]
        time.sleep(0.1)
    time.sleep(2.0)  # the runtime commands torque by now
    runtime = _runtime_of(bench.pid)
    assert runtime is not None
    return bench, runtime


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_stop_signal_to_the_bench_group_fades_the_runtime_out_and_exits_non_zero(tmp_path, signum):
    bench, runtime = _start_bench(tmp_path)
    sent = time.monotonic()
    os.killpg(bench.pid, signum)
    output, _ = bench.communicate(timeout=15)
    took = time.monotonic() - sent
    assert bench.returncode == 128 + signum, output
    assert took < 5.0, f"{took:.1f} s from the signal to the bench's exit"
    assert "Traceback" not in output and f"interrupted ({signal.Signals(signum).name})" in output
    assert "PASS" not in output
    assert not _alive(runtime), "the runtime was left running"
    runtime_output = (tmp_path / "out" / "work" / "runtime_output.txt").read_text()
    assert "stopped (signal SIGTERM)" in runtime_output, runtime_output  # asked to stop, it faded out itself
    (trial,) = (tmp_path / "out" / "work" / "trials").glob("*.mcap")
    events = [e.get("message", "") for e in read_trial(trial).topic("/events")]
    assert any("stop requested" in text for text in events), events


def test_the_bench_fails_within_a_second_when_its_runtime_dies(tmp_path):
    bench, runtime = _start_bench(tmp_path)
    os.kill(runtime, signal.SIGKILL)
    died = time.monotonic()
    output, _ = bench.communicate(timeout=15)
    assert time.monotonic() - died < 1.5
    assert bench.returncode == 1, output
    assert "FAIL: the runtime exited" in output and "killed by SIGKILL" in output, output
    assert "Traceback" not in output


def test_a_killed_bench_leaves_no_runtime_behind(tmp_path):
    bench, runtime = _start_bench(tmp_path)
    bench.kill()  # SIGKILL: no clean-up of its own runs
    bench.communicate(timeout=15)
    deadline = time.monotonic() + 5.0
    while _alive(runtime) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(runtime), "the runtime outlived its bench"
    runtime_output = (tmp_path / "out" / "work" / "runtime_output.txt").read_text()
    # the parent-death SIGTERM asks it to fade out (a multi-threaded bench's death can send it twice: the kernel
    # signals on each parent thread's exit)
    assert "stop requested: fading out" in runtime_output, runtime_output
