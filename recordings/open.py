"""One door to every recording format: a path in, a :class:`~recordings.recording.Recording` out.

- a TUM folder (``Gyroscopes_right.txt.gz`` and its siblings inside);
- a recording map (``kind: recording`` YAML), or a folder holding one as ``recording.yaml``: Xsens MT Manager
  exports, one per sensor, or CSV files with named columns and units.
"""

from __future__ import annotations

from pathlib import Path

from firmware_bridge.config.schema import load_config
from recordings.recording import Recording, RecordingError
from recordings.recording_map import RecordingMap, read_csv_imu
from recordings.tum import read_tum
from recordings.xsens import join_exports, looks_like_xsens, read_xsens

MAP_NAME = "recording.yaml"


def open_recording(path: str | Path) -> Recording:
    """Read the recording at ``path`` (see the module docstring); a :class:`RecordingError` or a config error
    names the file and the problem."""
    path = Path(path)
    if path.is_dir():
        if not (path / MAP_NAME).is_file():
            return read_tum(path)
        path = path / MAP_NAME
    if path.suffix in (".yaml", ".yml") and path.is_file():
        return read_mapped(path, load_config(path, RecordingMap))
    if not path.exists():
        raise RecordingError(f"{path}: no such recording")
    raise RecordingError(
        f"{path}: not a recording hipexo reads: give a TUM folder or a recording map (kind: recording YAML, or a "
        f"folder with {MAP_NAME}) naming each IMU's file (docs/recordings.md)"
    )


def read_mapped(map_path: Path, recording: RecordingMap) -> Recording:
    """The IMUs a recording map names, each from its file (relative names: next to the map)."""
    files = {name: map_path.parent / (imu.file or recording.file) for name, imu in recording.imus.items()}
    for name, file in files.items():
        if not file.is_file():
            raise RecordingError(f"{map_path}: imus.{name}: no such file {file}")
    kinds = {name: _format_of(file, recording.format) for name, file in files.items()}
    if len(set(kinds.values())) > 1:
        raise RecordingError(f"{map_path}: the files mix formats ({kinds}): set 'format' or use one kind of file")
    kind = next(iter(kinds.values()))
    if kind == "xsens":
        exports = {name: read_xsens(file, recording.rate_hz) for name, file in files.items()}
        try:
            imus = join_exports(exports)
        except RecordingError as exc:
            raise RecordingError(f"{map_path}: {exc}") from None
    else:
        for name, imu in recording.imus.items():
            if len(imu.accel) != 3 or (len(imu.gyro) != 3 and len(imu.quat) != 4):
                raise RecordingError(f"{map_path}: imus.{name}: a CSV needs its accel and gyro (or quat) columns named")
        if not (recording.time_column or recording.rate_hz):
            raise RecordingError(f"{map_path}: a CSV needs time_column, or rate_hz when there is none")
        imus = {name: read_csv_imu(files[name], name, imu, recording) for name, imu in recording.imus.items()}
    return Recording(map_path, kind, imus)


def _format_of(file: Path, stated: str) -> str:
    if stated != "auto":
        return stated
    if file.suffix == ".csv" or file.name.endswith(".csv.gz"):
        return "csv"
    if looks_like_xsens(file):
        return "xsens"
    raise RecordingError(f"{file}: neither a .csv file nor an Xsens export ('//' header): set 'format' in the map")
