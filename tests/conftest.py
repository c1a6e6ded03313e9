"""Shared fixtures: the shipped configs, loaded once."""

from __future__ import annotations

import pytest

from firmware_bridge.config import DeviceConfig, RuntimeConfig, SubjectConfig, load_config
from firmware_bridge.config.paths import default_config


@pytest.fixture(scope="session")
def device_config() -> DeviceConfig:
    return load_config(default_config("device", "hip_exo"), DeviceConfig)


@pytest.fixture(scope="session")
def subject_config() -> SubjectConfig:
    return load_config(default_config("subject"), SubjectConfig)


@pytest.fixture(scope="session")
def runtime_config() -> RuntimeConfig:
    return load_config(default_config("runtime"), RuntimeConfig)
