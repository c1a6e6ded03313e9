"""The trial log describes itself: every channel has a JSON Schema with named fields and units, every message
written validates against it, events are foxglove.Log, attachments are typed; logs of the first format still read."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import jsonschema
import numpy as np
import pandas as pd
import pytest
from mcap.reader import make_reader
from synthetic_trial import IMU_IDS, WALL_OFFSET_NS, walking_records, write_walking_trial

from analysis.export import trial_table
from firmware_bridge.config.paths import REPO_ROOT
from firmware_bridge.protocol.messages import ImuReading
from firmware_bridge.trial.channels import FOXGLOVE_LOG, trial_channels
from firmware_bridge.trial.reader import read_trial
from firmware_bridge.trial.writer import TrialLogger
from tools.cli import main

FORMAT1 = REPO_ROOT / "tests" / "data" / "trial_format1.mcap"
"""8 s of walking_records(8.0, (1.1, 1.1)), written by the first format's writer with WALL_OFFSET_NS."""


@pytest.fixture(scope="module")
def trial(tmp_path_factory) -> Path:
    return write_walking_trial(tmp_path_factory.mktemp("channels") / "walk.mcap", (1.1, 1.1), duration_s=4.0)


def indexed(path: Path) -> list:
    """(schema, channel, message) of every message, through the mcap library's indexed reader."""
    with open(path, "rb") as f:
        return list(make_reader(f).iter_messages())


def test_every_message_validates_against_its_channels_schema(trial):
    seen: dict[str, int] = {}
    for schema, channel, message in indexed(trial):
        assert (schema.encoding, channel.message_encoding) == ("jsonschema", "json")
        document = json.loads(schema.data)
        validator = jsonschema.validators.validator_for(document)
        validator.check_schema(document)
        validator(document).validate(json.loads(message.data))
        assert schema.name == document["title"]
        seen[channel.topic] = seen.get(channel.topic, 0) + 1
    assert set(seen) == set(trial_channels(IMU_IDS)), "every channel has messages, and only those"
    assert seen["/timing"] == 400 and seen["/imu/raw"] == 400 and seen["/events"] == 5


def test_the_schemas_name_each_signal_with_its_unit(trial):
    schemas = {channel.topic: json.loads(schema.data) for schema, channel, _ in indexed(trial)}
    imu = schemas["/imu/raw"]["properties"]
    assert imu["thigh_r"]["properties"]["gyro_x"]["title"] == "thigh_r.gyro_x [rad/s]"
    assert "rad/s" in imu["thigh_r"]["properties"]["gyro_x"]["description"]
    assert imu["pelvis"]["properties"]["accel_z"]["title"] == "pelvis.accel_z [m/s²]"
    assert schemas["/torque/shaped"]["properties"]["right_nm"]["title"] == "right_nm [N·m]"
    assert schemas["/timing"]["properties"]["read_us"]["title"] == "read_us [µs]"
    for topic, schema in schemas.items():
        if topic != "/events":
            assert schema["additionalProperties"] is False, topic
    events = schemas["/events"]
    assert events["title"] == "foxglove.Log" and events["required"] == FOXGLOVE_LOG["required"]
    assert {k: events["properties"][k] for k in FOXGLOVE_LOG["properties"]} == FOXGLOVE_LOG["properties"]


def test_a_message_off_its_schema_fails_validation(trial):
    """The schemas are not ``{"type": "object"}``: a frame without its cycle, or with a reading as a list, fails."""
    schema, _, message = next(item for item in indexed(trial) if item[1].topic == "/imu/raw")
    document, frame = json.loads(schema.data), json.loads(message.data)
    jsonschema.validate(frame, document)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({k: v for k, v in frame.items() if k != "cycle"}, document)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**frame, "thigh_r": [0.1, 0.2, 0.3]}, document)


def test_events_are_foxglove_logs_and_attachments_are_typed(trial):
    events = read_trial(trial).messages["/events"]
    t_ns, fault = next((t, e) for t, e in events if e["name"] == "fault")
    assert fault["level"] == 4 and fault["message"].startswith("IMU stale") and fault["state"] == "FAULT"
    assert fault["timestamp"] == {"sec": t_ns // 10**9, "nsec": t_ns % 10**9}
    assert next(e for _, e in events if e["name"] == "marker")["level"] == 2
    with open(trial, "rb") as f:
        (attachment,) = make_reader(f).iter_attachments()
    assert (attachment.name, attachment.media_type) == ("manifest.json", "application/json")


def test_a_value_that_was_not_finite_is_null_in_the_file_and_nan_when_read(tmp_path):
    """JSON has no NaN: a strict parser (a viewer's JSON.parse) must read every message."""
    (record,) = walking_records(0.01, (1.1, 1.1))
    seq, device_time_us, received_ns, (pelvis, _, thigh_l) = record.imu_frames[0]
    bad = ImuReading(1, (math.nan, 0.0, math.inf), (0.0, 9.81, 0.0), 0)
    frames = [(seq, device_time_us, received_ns, (pelvis, bad, thigh_l))]
    logger = TrialLogger(tmp_path / "nan.mcap", {}, {}, 64, WALL_OFFSET_NS, IMU_IDS)
    logger.cycle(record._replace(imu_frames=frames, command=(math.nan, 0.0)))
    assert logger.close()

    def refuse(constant: str) -> None:
        raise ValueError(f"not JSON: {constant}")

    for schema, _, message in indexed(tmp_path / "nan.mcap"):
        jsonschema.validate(json.loads(message.data, parse_constant=refuse), json.loads(schema.data))
    log = read_trial(tmp_path / "nan.mcap")
    thigh = log.topic("/imu/raw")[0]["thigh_r"]
    assert thigh["gyro_x"] is None and thigh["gyro_z"] is None and thigh["gyro_y"] == 0.0
    table = trial_table(log)
    assert np.isnan(table["thigh_r.gyro_x [rad/s]"][0]) and np.isnan(table["command_norm_r"][0])
    assert table["thigh_r.accel_y [m/s²]"][0] == pytest.approx(9.81)


def test_docs_list_every_channel_and_field():
    text = (REPO_ROOT / "docs" / "trials.md").read_text()
    for topic, spec in trial_channels(IMU_IDS).items():
        assert f"`{topic}`" in text, topic
        fields = spec.schema["properties"]
        for name, field in fields.items():
            if name in IMU_IDS:
                fields = {**fields, **{f"<imu>.{k}": v for k, v in field["properties"].items()}}
        for name in fields:
            if name not in IMU_IDS:
                assert re.search(rf"`{re.escape(name)}`", text), f"{topic} {name} is not in docs/trials.md"


# --- the first log format -------------------------------------------------------------------------------------


def test_a_first_format_log_reads_as_the_current_format():
    log = read_trial(FORMAT1)
    assert log.format == 1 and log.complete
    records = list(walking_records(8.0, (1.1, 1.1)))
    frames = log.topic("/imu/raw")
    assert [f["cycle"] for f in frames] == [r.cycle for r in records], "each frame joined to the cycle that took it"
    for frame, record in zip(frames[::97], records[::97], strict=True):
        (_, _, _, readings) = record.imu_frames[0]
        for name, imu_id in IMU_IDS.items():
            _, gyro, accel, _ = readings[imu_id]
            assert [frame[name][f"gyro_{a}"] for a in "xyz"] == pytest.approx(np.float32(gyro).tolist())
            assert [frame[name][f"accel_{a}"] for a in "xyz"] == pytest.approx(np.float32(accel).tolist())
    statuses = log.topic("/motor/status")
    assert [s["cycle"] for s in statuses] == [r.cycle for r in records if r.statuses]
    names = [e["name"] for e in log.topic("/events")]
    assert names == ["state", "state", "fault", "state", "marker"]
    assert log.messages["/events"][2][1]["timestamp"]["sec"] == WALL_OFFSET_NS // 10**9 + 3


def test_the_trial_commands_read_a_first_format_log(tmp_path, capsys):
    assert main(["trial", "inspect", str(FORMAT1)]) == 0
    out = capsys.readouterr().out
    assert "format      1" in out and "faults      1" in out and "turnaround" in out
    assert main(["trial", "report", str(FORMAT1), "--out", str(tmp_path / "report")]) == 0
    figures = json.loads((tmp_path / "report" / "trial_report.json").read_text())
    assert figures["sides"]["right"]["strides"] == figures["sides"]["left"]["strides"] == 6
    assert figures["sides"]["right"]["stride_s"] == pytest.approx(1.1, abs=0.02)
    assert main(["trial", "export", str(FORMAT1), "--out", str(tmp_path), "--format", "csv"]) == 0
    table = pd.read_csv(tmp_path / "trial_format1.csv")
    records = list(walking_records(8.0, (1.1, 1.1)))
    assert table["cycle"].tolist() == [r.cycle for r in records]
    expected = [np.float32(r.imu_frames[0][3][1][1][2]) for r in records]
    assert table["thigh_r.gyro_z [rad/s]"].to_numpy() == pytest.approx(expected)
    assert table["torque_cmd_r [N·m]"].to_numpy() == pytest.approx([r.shaped[0] for r in records])
