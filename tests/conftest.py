"""Shared fixtures: the shipped configs, loaded once."""

from __future__ import annotations

import pytest

from firmware_bridge.config import DeviceConfig, RuntimeConfig, SubjectConfig, load_config
from firmware_bridge.config.paths import default_config
from firmware_bridge.signing import Trust

pytest_plugins = ["device_bench"]  # its runtime fixtures (bundle, bench) for the runtime tests


@pytest.fixture(scope="session")
def device_config() -> DeviceConfig:
    return load_config(default_config("device", "hip_exo"), DeviceConfig)


@pytest.fixture(scope="session")
def subject_config() -> SubjectConfig:
    return load_config(default_config("subject"), SubjectConfig)


@pytest.fixture(scope="session")
def runtime_config() -> RuntimeConfig:
    return load_config(default_config("runtime"), RuntimeConfig)


@pytest.fixture(scope="session")
def trust() -> Trust:
    """The device's trust in the test suite's signing key (tests/device_bench.py signs test bundles)."""
    from device_bench import suite_signing_key

    return Trust.from_file(suite_signing_key()[1])


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory):
    """A smoke-sized teacher run (2048 steps through both stages of configs/teacher/smoke.yaml)."""
    from firmware_bridge.config.paths import CONFIG_DIR
    from tools.cli import main

    run_dir = tmp_path_factory.mktemp("teacher") / "run"
    config = str(CONFIG_DIR / "teacher" / "smoke.yaml")
    assert (
        main(["teacher", "train", "--config", config, "--out", str(run_dir), "--steps", "2048", "--no-progress"]) == 0
    )
    return run_dir
