"""Validated YAML configuration (see :mod:`firmware_bridge.config.schema`)."""

from firmware_bridge.config.models import (
    DeviceConfig,
    ImuCalibration,
    ImuLinkConfig,
    ImuMountConfig,
    LowPassConfig,
    RuntimeConfig,
    SubjectConfig,
    WatchdogConfig,
)
from firmware_bridge.config.pairing import check_pair
from firmware_bridge.config.schema import (
    ConfigError,
    build,
    kind_of,
    known_kinds,
    load_config,
    read_yaml,
    register_kind,
)

__all__ = [
    "ConfigError",
    "DeviceConfig",
    "ImuLinkConfig",
    "ImuCalibration",
    "ImuMountConfig",
    "LowPassConfig",
    "RuntimeConfig",
    "SubjectConfig",
    "WatchdogConfig",
    "build",
    "check_pair",
    "kind_of",
    "known_kinds",
    "load_config",
    "read_yaml",
    "register_kind",
]
