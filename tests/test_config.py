"""Config validation: shipped files are valid; broken ones are refused naming the file and the field."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from firmware_bridge.config import ConfigError, DeviceConfig, RuntimeConfig, load_config
from firmware_bridge.config.paths import CONFIG_DIR, default_config
from tools.cli import main

GOOD_DEVICE = default_config("device", "hip_exo").read_text()


def write(tmp_path: Path, text: str, name: str = "device.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_every_shipped_config_validates(capsys):
    assert main(["config", "validate", str(CONFIG_DIR)]) == 0
    assert "INVALID" not in capsys.readouterr().err


def test_shipped_device_matches_the_seed_paper_masses(device_config):
    assert device_config.segment_masses_kg == {"pelvis": 1.5, "thigh_r": 0.7, "thigh_l": 0.7}


@pytest.mark.parametrize(
    ("old", "new", "field", "problem"),
    [
        ("torque_limit_nm: 25.0", "torque_limit_nm: -3", "torque_limit_nm", "must be > 0"),
        ("order: 1", "order: 3", "lowpass.order", "must be one of"),
        ("cutoff_hz: 12.0", "cutoff_hz: fast", "lowpass.cutoff_hz", "expected a number"),
        ("soft_start_s: 1.0", "soft_start: 1.0", "soft_start", "did you mean 'soft_start_s'"),
        ("fade_out_s: 0.5\n", "", "fade_out_s", "required field is missing"),
        ("thigh_l: 0.7", "shank_l: 0.7", "segment_masses_kg.shank_l", "unknown segment"),
        ("imu_id: 2", "imu_id: 1", "imus", "unique"),
        (
            "mounting_rpy_deg: [0.0, 0.0, 0.0]}\n  - {name: thigh_l",
            "mounting_rpy_deg: [0.0]}\n  - {name: thigh_l",
            "imus[1].mounting_rpy_deg",
            "exactly 3",
        ),
    ],
)
def test_broken_device_config_names_file_field_and_problem(tmp_path, capsys, old, new, field, problem):
    assert old in GOOD_DEVICE
    path = write(tmp_path, GOOD_DEVICE.replace(old, new, 1))
    assert main(["config", "validate", str(path)]) == 1
    err = capsys.readouterr().err
    line = next(line for line in err.splitlines() if line.strip().startswith(field + ":"))
    assert problem in line
    assert str(path) in err


def test_yaml_syntax_error_names_the_line(tmp_path):
    path = write(tmp_path, "kind: runtime\nloop_rate_hz: [100\n")
    with pytest.raises(ConfigError, match=r"line \d+"):
        load_config(path)


def test_unknown_kind_and_wrong_kind_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="kind: must be one of"):
        load_config(write(tmp_path, "kind: spaceship\n"))
    with pytest.raises(ConfigError, match="expected 'runtime', got 'device'"):
        load_config(write(tmp_path, GOOD_DEVICE), RuntimeConfig)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read file"):
        load_config(tmp_path / "nope.yaml", DeviceConfig)


def test_defaults_fill_in_and_nested_values_parse(tmp_path):
    config = load_config(write(tmp_path, "kind: runtime\nwatchdog: {imu_stale_s: 0.05}\n"), RuntimeConfig)
    assert config.loop_rate_hz == 100.0 and config.watchdog.imu_stale_s == 0.05
    assert config.watchdog.overrun_streak == 5


def test_command_line_entry_point_exits_non_zero_on_a_broken_config(tmp_path):
    path = write(tmp_path, GOOD_DEVICE.replace("rate_limit_nm_per_s: 150.0", "rate_limit_nm_per_s: 0"))
    result = subprocess.run(
        [sys.executable, "-m", "tools.cli", "config", "validate", str(path)], capture_output=True, text=True
    )
    assert result.returncode == 1
    assert "rate_limit_nm_per_s: must be > 0.0" in result.stderr


def test_help_is_available_everywhere():
    for argv in (["--help"], ["config", "--help"], ["config", "validate", "--help"], ["config", "show", "--help"]):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 0


def test_extends_deep_merges_over_the_base_and_checks_it(tmp_path):
    write(tmp_path, "kind: runtime\nbaud: 460800\nwatchdog: {imu_stale_s: 0.05, overrun_streak: 9}\n", "base.yaml")
    child = write(tmp_path, "kind: runtime\nextends: base.yaml\nwatchdog: {imu_stale_s: 0.02}\n", "child.yaml")
    config = load_config(child, RuntimeConfig)
    assert config.baud == 460800
    assert config.watchdog.imu_stale_s == 0.02 and config.watchdog.overrun_streak == 9
    write(tmp_path, "kind: device\n", "other.yaml")
    with pytest.raises(ConfigError, match="is kind 'device'"):
        load_config(write(tmp_path, "kind: runtime\nextends: other.yaml\n", "bad.yaml"))
    with pytest.raises(ConfigError, match="leads back to itself"):
        load_config(write(tmp_path, "kind: runtime\nextends: loop.yaml\n", "loop.yaml"))
    with pytest.raises(ConfigError, match="no such file"):
        load_config(write(tmp_path, "kind: runtime\nextends: missing.yaml\n", "orphan.yaml"))


def test_assist_and_slope_sim_configs_turn_the_exo_on_and_keep_the_base_rates():
    from teacher.config import SimConfig

    base, assist, slopes = (
        load_config(default_config("sim"), SimConfig),
        load_config(default_config("sim", "assist"), SimConfig),
        load_config(default_config("sim", "slopes"), SimConfig),
    )
    assert assist.exo_enabled and not base.exo_enabled
    assert assist.slope_range_deg == [0.0, 0.0] and slopes.slope_range_deg == [-10.0, 10.0]
    assert assist.reward.effort.weight > base.reward.effort.weight
    assert slopes.exo_enabled and slopes.reward == assist.reward
    assert assist.reward.joint_position.gain < base.reward.joint_position.gain
    assert assist.reward.root == base.reward.root and assist.control_rate_hz == base.control_rate_hz


def test_validate_refuses_what_the_runtime_would_refuse_naming_file_and_field(tmp_path, capsys):
    device = tmp_path / "fast_filter.yaml"
    device.write_text(default_config("device", "hip_exo").read_text().replace("cutoff_hz: 12.0", "cutoff_hz: 80.0"))
    assert main(["config", "validate", str(device)]) == 1
    err = capsys.readouterr().err
    assert f"INVALID {device}" in err and "lowpass.cutoff_hz: 80 Hz must be below half the loop rate (50 Hz" in err
    runtime = tmp_path / "fast_loop.yaml"
    runtime.write_text(default_config("runtime").read_text().replace("loop_rate_hz: 100.0", "loop_rate_hz: 200.0"))
    assert main(["config", "validate", str(device), str(runtime)]) == 0, "80 Hz is fine at a 200 Hz loop"
    slow = tmp_path / "slow_loop.yaml"
    slow.write_text(default_config("runtime").read_text().replace("loop_rate_hz: 100.0", "loop_rate_hz: 20.0"))
    assert main(["config", "validate", str(slow)]) == 1
    assert "watchdog.imu_stale_s: 0.03 s is under one loop period (0.05 s)" in capsys.readouterr().err
    slow.write_text(slow.read_text().replace("imu_stale_s: 0.030", "imu_stale_s: 0.100"))
    assert main(["config", "validate", str(slow)]) == 1  # now valid alone, but not with the shipped device
    err = capsys.readouterr().err
    assert (
        "hip_exo.yaml" in err
        and f"lowpass.cutoff_hz: 12 Hz must be below half the loop rate (10 Hz: loop_rate_hz 20 in {slow})" in err
    )


def test_hipexo_run_refuses_the_same_pair_with_one_line_and_exit_2(tmp_path):
    device = tmp_path / "fast_filter.yaml"
    device.write_text(default_config("device", "hip_exo").read_text().replace("cutoff_hz: 12.0", "cutoff_hz: 80.0"))
    command = [sys.executable, "-m", "tools.cli", "run", "--baseline", "--imu-port", "/dev/null", "--dev-subject"]
    result = subprocess.run(
        [*command, "--device-config", str(device)], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert str(device) in result.stderr and "lowpass.cutoff_hz: 80 Hz" in result.stderr
