"""Which serial ports carry the IMUs, and how to decode each (device config ``imu_link``, docs/protocol.md).

- ``hipexo``: one port carries every IMU in hipexo frames (``--imu-port PATH`` or the runtime config's
  ``imu_port``); the motor controller may share it.
- ``xsens_mtdata2``: one Xsens MTi per port, each sending MTData2 for one IMU of the device config. Each IMU's
  port is ``--imu-port NAME=PATH`` or its ``imus[].port`` in the device config (a udev name such as
  ``/dev/hipexo-imu-pelvis`` keeps it stable); the motor controller needs a port of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from firmware_bridge.config import DeviceConfig
from firmware_bridge.protocol.decoder import FrameDecoder, StreamDecoder
from firmware_bridge.protocol.xsens_mtdata2 import MtData2Decoder


class ImuPortError(ValueError):
    """The IMU ports given do not fit the device config; the message says which and how to fix it."""


@dataclass(frozen=True)
class ImuPort:
    path: str
    imu: str | None = None
    """The IMU this port serves alone (an MTi), or None when it carries every IMU (hipexo)."""
    imu_id: int | None = None

    def describe(self) -> str:
        return self.path if self.imu is None else f"{self.imu}={self.path}"


def resolve_imu_ports(
    device: DeviceConfig, device_source: str, given: Sequence[str], runtime_imu_port: str | None
) -> list[ImuPort]:
    """The IMU ports to open: ``given`` (``--imu-port`` values) first, then the configs."""
    named = [g for g in given if "=" in g]
    if device.imu_link.protocol == "hipexo":
        if named or len(given) > 1:
            raise ImuPortError(
                f"--imu-port {' '.join(given)}: {device_source} has imu_link.protocol hipexo, whose IMUs all arrive "
                "on one port: pass one --imu-port PATH (NAME=PATH is for xsens_mtdata2 devices)"
            )
        path = given[0] if given else runtime_imu_port
        if not path:
            raise ImuPortError("no IMU port: pass --imu-port or set imu_port in the runtime config")
        return [ImuPort(path)]
    if len(named) != len(given):
        bare = [g for g in given if "=" not in g]
        raise ImuPortError(
            f"--imu-port {bare[0]}: {device_source} has imu_link.protocol xsens_mtdata2, one MTi per IMU: "
            f"pass --imu-port NAME=PATH for each of {[imu.name for imu in device.imus]}"
        )
    paths = {}
    for entry in named:
        name, _, path = entry.partition("=")
        if name not in device.imu_ids():
            raise ImuPortError(
                f"--imu-port {entry}: {device_source} has no IMU {name!r} (its IMUs: {list(device.imu_ids())})"
            )
        paths[name] = path
    ports = []
    for k, imu in enumerate(device.imus):
        path = paths.get(imu.name, imu.port)
        if not path:
            raise ImuPortError(
                f"IMU {imu.name} has no port: pass --imu-port {imu.name}=PATH or set imus[{k}].port in {device_source}"
            )
        ports.append(ImuPort(path, imu.name, imu.imu_id))
    taken = [p.path for p in ports]
    if len(set(taken)) != len(taken):
        raise ImuPortError(f"IMU ports {[p.describe() for p in ports]}: each MTi needs a port of its own")
    return ports


def resolve_motor_port(ports: list[ImuPort], given: str | None, runtime_motor_port: str | None) -> str:
    """The motor controller's port: as given, else the runtime config's, else a hipexo IMU port (shared)."""
    shared = ports[0].path if ports[0].imu is None else None
    path = given or runtime_motor_port or shared
    if not path:
        raise ImuPortError("no motor port: pass --motor-port or set motor_port in the runtime config")
    mti = next((p for p in ports if p.imu is not None and p.path == path), None)
    if mti is not None:
        raise ImuPortError(
            f"motor port {path} is an MTi's IMU port ({mti.describe()}): the motor controller needs its own"
        )
    return path


def decoder_for(port: ImuPort) -> Callable[[], FrameDecoder]:
    """What decodes the port's bytes: hipexo frames, or the one MTi's MTData2 as that IMU's samples."""
    if port.imu_id is None:
        return StreamDecoder
    imu_id = port.imu_id
    return lambda: MtData2Decoder(imu_id)
