"""Real IMU recordings in one home: readers for TUM folders, Xsens MT Manager exports and mapped CSV files, and
the sensor-mounting estimates made from them. The bench (hil/) and distillation's eval read recordings here.

Base install only (numpy, PyYAML, firmware_bridge's config schema); nothing here imports hil/, distill/ or tools/.
"""

from recordings.mounting import MountingEstimate, calibrate, functional_alignment, segment_frames
from recordings.open import open_recording
from recordings.recording import ImuStream, Recording, RecordingError
from recordings.recording_map import RecordingMap

__all__ = [
    "ImuStream",
    "MountingEstimate",
    "Recording",
    "RecordingError",
    "RecordingMap",
    "calibrate",
    "functional_alignment",
    "open_recording",
    "segment_frames",
]
