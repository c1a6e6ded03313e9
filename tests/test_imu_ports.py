"""Choosing the IMU protocol and ports: device config ``imu_link`` and ``imus[].port``, ``hipexo run --imu-port``."""

from __future__ import annotations

import pytest
import yaml

from firmware_bridge.config import ConfigError, DeviceConfig, load_config
from firmware_bridge.config.paths import default_config
from firmware_bridge.runtime.imu_ports import ImuPort, ImuPortError, resolve_imu_ports
from tools.cli import main

XSENS = default_config("device", "hip_exo_xsens")


@pytest.fixture(scope="module")
def xsens() -> DeviceConfig:
    return load_config(XSENS, DeviceConfig)


def write_device(tmp_path, **changes) -> str:
    data = yaml.safe_load(default_config("device", "hip_exo").read_text())
    data.update(changes)
    path = tmp_path / "device.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def test_the_shipped_xsens_device_config_has_one_port_per_imu(xsens):
    assert xsens.imu_link.protocol == "xsens_mtdata2" and xsens.imu_link.baud == 115200
    ports = resolve_imu_ports(xsens, str(XSENS), [], None)
    assert ports == [ImuPort(imu.port, imu.name, imu.imu_id) for imu in xsens.imus]
    assert len({p.path for p in ports}) == 3


def test_a_port_under_the_hipexo_protocol_is_refused_naming_the_field(tmp_path):
    imus = yaml.safe_load(default_config("device", "hip_exo").read_text())["imus"]
    imus[1]["port"] = "/dev/ttyUSB3"
    with pytest.raises(ConfigError) as err:
        load_config(write_device(tmp_path, imus=imus), DeviceConfig)
    assert "imus[1].port: '/dev/ttyUSB3' is for imu_link.protocol xsens_mtdata2" in str(err.value)


def test_two_mtis_on_one_port_and_an_unknown_protocol_are_refused(tmp_path):
    imus = yaml.safe_load(default_config("device", "hip_exo").read_text())["imus"]
    for imu in imus:
        imu["port"] = "/dev/ttyUSB0"
    with pytest.raises(ConfigError) as err:
        load_config(write_device(tmp_path, imus=imus, imu_link={"protocol": "xsens_mtdata2"}), DeviceConfig)
    assert "given to more than one IMU" in str(err.value)
    with pytest.raises(ConfigError) as err:
        load_config(write_device(tmp_path, imu_link={"protocol": "bno08x"}), DeviceConfig)
    assert "imu_link.protocol: must be one of ['hipexo', 'xsens_mtdata2']" in str(err.value)


def test_command_line_ports_override_and_must_name_known_imus(xsens):
    ports = resolve_imu_ports(xsens, "dev.yaml", ["thigh_l=/dev/pts/9"], None)
    assert [p.describe() for p in ports][2] == "thigh_l=/dev/pts/9" and ports[0].path == "/dev/hipexo-imu-pelvis"
    with pytest.raises(ImuPortError, match="has no IMU 'shank'"):
        resolve_imu_ports(xsens, "dev.yaml", ["shank=/dev/pts/9"], None)
    with pytest.raises(ImuPortError, match="one MTi per IMU: pass --imu-port NAME=PATH"):
        resolve_imu_ports(xsens, "dev.yaml", ["/dev/pts/9"], None)
    with pytest.raises(ImuPortError, match="each MTi needs a port of its own"):
        resolve_imu_ports(xsens, "dev.yaml", ["pelvis=/dev/a", "thigh_r=/dev/a"], None)


def test_hipexo_takes_one_port_from_the_command_line_or_the_runtime_config(device_config):
    assert resolve_imu_ports(device_config, "d.yaml", [], "/dev/ttyACM0") == [ImuPort("/dev/ttyACM0")]
    assert resolve_imu_ports(device_config, "d.yaml", ["/dev/x"], "/dev/ttyACM0") == [ImuPort("/dev/x")]
    with pytest.raises(ImuPortError, match="NAME=PATH is for xsens_mtdata2 devices"):
        resolve_imu_ports(device_config, "d.yaml", ["pelvis=/dev/x"], None)
    with pytest.raises(ImuPortError, match="no IMU port"):
        resolve_imu_ports(device_config, "d.yaml", [], None)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--imu-port", "/dev/pts/1", "--motor-port", "/dev/pts/2"], "one MTi per IMU"),
        ([], "no motor port: pass --motor-port"),
        (["--motor-port", "/dev/hipexo-imu-pelvis"], "is an MTi's IMU port"),
    ],
)
def test_hipexo_run_refuses_bad_xsens_ports_in_one_line(args, message, capsys):
    code = main(["run", "--baseline", "--dev-subject", "--device-config", str(XSENS), *args])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err


def test_a_trial_log_records_an_extended_device_config_as_one_self_contained_file(xsens):
    """``hipexo run`` stores this text in the log; it must read back without the file it extends."""
    from firmware_bridge.config import build
    from firmware_bridge.config.schema import self_contained_text

    data = yaml.safe_load(self_contained_text(XSENS))
    assert "extends" not in data and data.pop("kind") == "device"
    assert build(DeviceConfig, data) == xsens
    plain = default_config("device", "hip_exo")
    assert self_contained_text(plain) == plain.read_text()
