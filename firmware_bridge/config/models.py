"""The configuration sections the device computer needs: subject, device and runtime.

Units are SI and appear in every field name that carries one. Side order is (right, left) everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

from firmware_bridge.config.schema import register_kind, spec

SEGMENTS = ("pelvis", "thigh_r", "thigh_l")


@dataclass(frozen=True)
class ImuCalibration:
    """One IMU's measured sensor-to-segment rotation on this person (``hipexo calibrate``, docs/conventions.md)."""

    rpy_deg: list[float] = spec(length=3, doc="roll, pitch, yaw in degrees, the convention of mounting_rpy_deg")
    source: str = spec("", doc="how it was measured: the recording and the method")

    def validate(self) -> list[str]:
        bad = [a for a in self.rpy_deg if not -180.0 <= a <= 180.0]
        return [f"rpy_deg: each angle must be within [-180, 180] degrees (got {bad[0]:g})"] if bad else []


@dataclass(frozen=True)
class SubjectConfig:
    """The person wearing the device (or the simulated one)."""

    body_mass_kg: float = spec(gt=20.0, lt=250.0)
    height_m: float = spec(gt=0.8, lt=2.5)
    subject_id: str = spec("anonymous")
    imu_mounting: dict[str, ImuCalibration] = spec(
        {}, doc="per device IMU name: its measured mounting, which the runtime undoes (absent: the nominal one)"
    )


@dataclass(frozen=True)
class LowPassConfig:
    cutoff_hz: float = spec(gt=0.0, doc="must be below half the loop rate")
    order: int = spec(1, choices=(1, 2), doc="1 = first order, 2 = second-order Butterworth")


@dataclass(frozen=True)
class ImuMountConfig:
    """One IMU on the device: its wire id, the segment it sits on, and its sensor-to-segment rotation."""

    name: str
    imu_id: int = spec(ge=0, le=255)
    segment: str = spec(choices=SEGMENTS)
    mounting_rpy_deg: list[float] = spec([0.0, 0.0, 0.0], length=3)
    port: str | None = spec(None, doc="imu_link.protocol xsens_mtdata2: this IMU's serial port (one MTi per port)")


IMU_PROTOCOLS = ("hipexo", "xsens_mtdata2")


@dataclass(frozen=True)
class ImuLinkConfig:
    """What the IMUs speak (docs/protocol.md): hipexo frames carrying every IMU on one port, or one Xsens MTi
    per port sending MTData2."""

    protocol: str = spec("hipexo", choices=IMU_PROTOCOLS)
    baud: int | None = spec(None, gt=0, doc="the IMU ports' baud rate (None: the runtime config's baud)")


@dataclass(frozen=True)
class DeviceConfig:
    """The hip exoskeleton: added masses, IMUs, and every parameter of the torque-shaping chain."""

    name: str
    segment_masses_kg: dict[str, float]
    command_full_scale_nm_per_kg: float = spec(gt=0.0, le=2.0, doc="torque for a normalised command of 1")
    torque_limit_nm: float = spec(gt=0.0, le=100.0, doc="hard clamp per side")
    rate_limit_nm_per_s: float = spec(gt=0.0)
    lowpass: LowPassConfig = spec()
    soft_start_s: float = spec(gt=0.0, le=10.0)
    fade_out_s: float = spec(gt=0.0, le=10.0)
    imus: list[ImuMountConfig] = spec()
    imu_link: ImuLinkConfig = spec(ImuLinkConfig())

    def validate(self) -> list[str]:
        problems = []
        problems += self._imu_port_problems()
        for segment in self.segment_masses_kg:
            if segment not in SEGMENTS:
                problems.append(f"segment_masses_kg.{segment}: unknown segment, expected one of {list(SEGMENTS)}")
        for segment, mass in self.segment_masses_kg.items():
            if mass < 0.0:
                problems.append(f"segment_masses_kg.{segment}: must be >= 0 (got {mass})")
        names = [imu.name for imu in self.imus]
        ids = [imu.imu_id for imu in self.imus]
        if len(set(names)) != len(names):
            problems.append(f"imus: names must be unique (got {names})")
        if len(set(ids)) != len(ids):
            problems.append(f"imus: imu_id values must be unique (got {ids})")
        return problems

    def imu_ids(self) -> dict[str, int]:
        return {imu.name: imu.imu_id for imu in self.imus}

    def _imu_port_problems(self) -> list[str]:
        if self.imu_link.protocol == "hipexo":
            return [
                f"imus[{k}].port: {imu.port!r} is for imu_link.protocol xsens_mtdata2; with hipexo every IMU "
                "arrives on the one IMU port (--imu-port, runtime config imu_port): remove it"
                for k, imu in enumerate(self.imus)
                if imu.port is not None
            ]
        ports = [imu.port for imu in self.imus if imu.port is not None]
        duplicates = sorted({p for p in ports if ports.count(p) > 1})
        if duplicates:
            return [f"imus: an MTi has a port of its own; {duplicates} given to more than one IMU"]
        return []


@dataclass(frozen=True)
class WatchdogConfig:
    """Limits whose violation sends the runtime to zero torque."""

    imu_stale_s: float = spec(0.030, gt=0.0, le=1.0)
    imu_silent_s: float = spec(
        0.5, gt=0.0, le=10.0, doc="no IMU frame at all for this long is a link fault, even before the first arming"
    )
    bad_frame_burst: int = spec(5, ge=1, doc="bad frames within bad_frame_window_s that trip a fault")
    bad_frame_window_s: float = spec(0.1, gt=0.0)
    overrun_streak: int = spec(5, ge=1, doc="consecutive overrunning cycles that trip a fault")
    reconnect_interval_s: float = spec(0.5, gt=0.0)
    model_output_limit: float = spec(1.5, ge=1.0, doc="|normalised output| above this is a fault")
    frozen_samples: int = spec(
        10, ge=0, doc="new samples in a row with bit-identical readings that mean a stuck sensor (0: off)"
    )


@dataclass(frozen=True)
class RuntimeConfig:
    """How the device loop runs: rate, serial links, watchdogs, logging."""

    loop_rate_hz: float = spec(100.0, gt=0.0, le=2000.0)
    baud: int = spec(921600, gt=0)
    imu_port: str | None = spec(None)
    motor_port: str | None = spec(None)
    spin_before_deadline_s: float = spec(0.0008, ge=0.0, lt=0.01)
    trigger_on_imu: bool = spec(
        True, doc="start a cycle as soon as a complete IMU sample arrives (one per period, the deadline bounds it)"
    )
    phase_lock: bool = spec(True, doc="shift the loop's deadlines to follow the IMU stream")
    phase_lock_delay_s: float = spec(
        0.0005, ge=0.0, lt=0.01, doc="with trigger_on_imu off: target time from IMU arrival to cycle start"
    )
    phase_lock_slew_s: float = spec(0.0001, gt=0.0, lt=0.005, doc="largest deadline shift per cycle")
    watchdog: WatchdogConfig = spec(WatchdogConfig())
    log_queue_size: int = spec(4096, ge=16)
    realtime_priority: int = spec(50, ge=0, le=99, doc="SCHED_FIFO priority; 0 keeps the default scheduler")
    cpu_affinity: list[int] = spec([])
    trusted_keys_file: str | None = spec(None, doc="signers whose bundles may run (docs/bundle.md); --trusted-keys")
    allow_unsigned_bundles: bool = spec(False, doc="development only: run unsigned bundles, warned at every start")
    status_interval_s: float = spec(5.0, ge=0.0, doc="a link-health line on the console this often (0: never)")

    def validate(self) -> list[str]:
        """What the loop could not honour at ``loop_rate_hz``: each limit measured in periods."""
        period = 1.0 / self.loop_rate_hz
        problems = []
        for name, value in (
            ("spin_before_deadline_s", self.spin_before_deadline_s),
            ("phase_lock_delay_s", self.phase_lock_delay_s),
        ):
            if value >= period:
                problems.append(
                    f"{name}: {value:g} s must be shorter than one loop period ({period:g} s at {self.loop_rate_hz:g} Hz)"
                )
        w = self.watchdog
        if w.imu_stale_s < period:
            problems.append(
                f"watchdog.imu_stale_s: {w.imu_stale_s:g} s is under one loop period ({period:g} s): "
                "every cycle would read as stale"
            )
        if w.imu_silent_s < w.imu_stale_s:
            problems.append(f"watchdog.imu_silent_s: {w.imu_silent_s:g} s must be >= imu_stale_s ({w.imu_stale_s:g} s)")
        return problems


register_kind("subject", SubjectConfig)
register_kind("device", DeviceConfig)
register_kind("runtime", RuntimeConfig)
