"""``hipexo run --live``: a real runtime on ptys serves its trial to a real Foxglove WebSocket client.

The client (hil/live_client.py, on the ``websockets`` package) reads the server's advertisement,
subscribes, and decodes the binary message frames. Whatever the view does, the trial log is complete.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import time
from pathlib import Path

import pytest
from device_bench import RuntimeUnderTest

from firmware_bridge.config import DeviceConfig, load_config
from firmware_bridge.config.paths import default_config
from firmware_bridge.trial.channels import trial_channels
from hil.live_client import SUBPROTOCOL, LiveClient
from tools.cli import main

SERVING = re.compile(r"\[info\] live view: ws://127\.0\.0\.1:(\d+) ")
GAIN = 0.25 * 75  # the test bundle's output scale × the test subject's body mass: N·m per unit of gyro z


def served_port(run: RuntimeUnderTest) -> int:
    run.wait_for(lambda: any(SERVING.search(line) for line in run.lines), 20, "the live view's address")
    return int(next(m for line in run.lines if (m := SERVING.search(line)))[1])


def receive(client: LiveClient, count: int) -> dict[str, list[tuple[int, dict]]]:
    """(log time, JSON body) per subscribed topic, until each has ``count``."""
    got: dict[str, list[tuple[int, dict]]] = {topic: [] for topic in client.subscriptions.values()}
    for topic, log_time, body in client.messages():
        got[topic].append((log_time, json.loads(body)))
        if min(len(v) for v in got.values()) >= count:
            return got
    raise AssertionError(f"the view went quiet: { ({topic: len(v) for topic, v in got.items()}) }")


def view_pid(run: RuntimeUnderTest) -> int:
    """The live view: the process whose parent is the runtime's child (the trial logger)."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == run.process.pid and fields[0] != "Z":
            parents[int(stat.parent.name)] = int(fields[1])
    (pid,) = [pid for pid, parent in parents.items() if parents.get(parent) == run.process.pid]
    return pid


def device_channels():
    """The channels the default device's trial log has (the bench runs that device)."""
    return trial_channels(load_config(default_config("device", "hip_exo"), DeviceConfig).imu_ids())


def events(run: RuntimeUnderTest) -> list[dict]:
    return run.log().topic("/events")


def test_a_foxglove_client_sees_the_trials_channels_and_live_imu_and_torque(bench):
    run = bench(extra_args=("--live", "127.0.0.1:0"))
    run.set_gyro_z(0.4, -0.2)
    run.wait_for(run.assisting, 10, "assistance")
    time.sleep(0.4)  # past the 0.2 s soft start: full assistance
    specs = device_channels()
    with LiveClient(served_port(run)) as client:
        assert client.ws.subprotocol == SUBPROTOCOL
        channels = client.advertised(specs)
        client.subscribe({topic: channels[topic] for topic in ("/imu/raw", "/torque/shaped", "/motor/command")})
        live = receive(client, 20)
    assert set(channels) == set(specs)
    for topic, spec in specs.items():
        c = channels[topic]
        assert (c["encoding"], c["schemaName"], c["schemaEncoding"]) == ("json", spec.title, "jsonschema")
        assert json.loads(c["schema"]) == spec.schema
    run.signal(signal.SIGTERM)
    assert run.finish() == 0
    for _, imu in live["/imu/raw"]:  # IMUs by name, fields by name, as the log's schema says
        assert imu["thigh_r"]["gyro_z"] == pytest.approx(0.4, abs=1e-3)
        assert imu["thigh_l"]["gyro_z"] == pytest.approx(-0.2, abs=1e-3)
        assert imu["pelvis"]["accel_y"] == pytest.approx(9.81, abs=1e-3)
    for topic in ("/torque/shaped", "/motor/command"):
        for _, torque in live[topic]:
            assert torque["right_nm"] == pytest.approx(0.4 * GAIN, rel=1e-3)
            assert torque["left_nm"] == pytest.approx(-0.2 * GAIN, rel=1e-3)
    log = run.log()
    assert log.complete
    for topic, messages in live.items():  # the very messages the log holds, with the same times
        logged = dict(log.messages[topic])
        for log_time, body in messages:
            assert logged[log_time] == body
    assert any(e["name"] == "info" and e["message"].startswith("live view: ws://127.0.0.1:") for e in events(run))


def test_a_port_in_use_leaves_a_complete_log_with_the_reason(bench):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = bench(duration=1.5, extra_args=("--live", f"127.0.0.1:{port}"))
        assert run.finish() == 0
    log = run.log()
    assert log.complete and len(log.messages["/timing"]) >= 150
    (warning,) = [e["message"] for e in events(run) if e["message"].startswith("live view")]
    assert warning.startswith(f"live view not started on 127.0.0.1:{port}:") and "in use" in warning
    assert any(warning in line for line in run.lines), "said on the console too"


def test_a_live_view_that_dies_leaves_the_run_and_its_log_whole(bench):
    run = bench(extra_args=("--live", "127.0.0.1:0"))
    run.set_gyro_z(0.4, -0.2)
    served_port(run)
    os.kill(view_pid(run), signal.SIGKILL)
    killed = time.monotonic()
    run.wait_for(lambda: any("live view stopped" in line for line in run.lines), 5, "the view's end noticed")
    run.wait_for(lambda: sum(t > killed + 0.5 for t, _ in run.commands()) >= 40, 5, "commands go on")
    assert run.assisting()
    run.signal(signal.SIGTERM)
    assert run.finish() == 0
    log = run.log()
    assert log.complete
    (stopped,) = [e["message"] for e in events(run) if e["message"].startswith("live view stopped")]
    assert stopped.startswith("live view stopped: its process ended")
    assert [e for e in events(run) if e["name"] == "fault"] == []


@pytest.mark.parametrize("value", ["port", "127.0.0.1:70000"])
def test_a_bad_live_address_is_one_line_and_exit_2(value, capsys):
    assert main(["run", "--baseline", "--dev-subject", "--live", value]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"hipexo: error: --live {value}: ")
