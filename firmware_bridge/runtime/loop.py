"""The device loop: read IMUs → feature window → controller → safety → shaping → command + heartbeat → log.

One thread, at most one cycle per period of the :class:`DeadlineClock`. Between cycles the loop waits on
the IMU port with ``select`` so frames are stamped when they arrive. With ``trigger_on_imu`` a cycle
starts the moment a complete IMU sample (every IMU the student reads) has arrived, so arrival → command
latency is the cycle's own work; when none arrives the period's deadline starts it, so the stale-data,
silent-link and watchdog checks and the heartbeat run every period exactly as in a periodic loop. With
phase locking on, the deadlines drift (by at most ``phase_lock_slew_s`` per cycle) until each falls half
a period after the samples (a sample early or late by up to half a period still has its own period), or,
without the trigger, until each cycle starts ``phase_lock_delay_s`` after its sample. Nothing in a cycle
blocks on the trial log: records go to a bounded queue of a separate process.

Any exception in a cycle (read, features, infer, shape, write, log) or between cycles stops the loop at
once: a zero-torque command goes out (by a second, simpler write path if the normal one is what
failed), the reason is logged as a fault, and :attr:`RunSummary.error` tells the caller to exit non-zero.
"""

from __future__ import annotations

import math
import select
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from firmware_bridge.config import DeviceConfig, RuntimeConfig, SubjectConfig
from firmware_bridge.features import FeatureSpec, FeatureWindow, LatestImu
from firmware_bridge.mounting import mounting_corrections
from firmware_bridge.protocol.messages import (
    CommandFlags,
    ControllerFault,
    ControllerFlags,
    ControllerStatus,
    FaultReport,
    Heartbeat,
    ImuSample,
    TorqueCommand,
)
from firmware_bridge.runtime.controller import Controller
from firmware_bridge.runtime.link import SerialLink
from firmware_bridge.runtime.safety import CycleInputs, SafetyMachine, State, Transition
from firmware_bridge.runtime.timing import STAGES, CycleTiming, DeadlineClock, phase_error_ns
from firmware_bridge.shaping import ShapedTorque, ShaperState, ShapingParams, reset, shape_step, start_fade
from firmware_bridge.trial.faults import FaultEpisode, fault_episodes
from firmware_bridge.trial.records import CycleRecord
from firmware_bridge.trial.writer import TrialLogger

RTT_MEMORY = 256
"""Sent command seqs remembered for round-trip timing of controller status echoes."""


@dataclass
class RunSummary:
    cycles: int
    overruns: int
    skipped: int
    faults: list[FaultEpisode]
    final_state: State
    stop_reason: str
    log_drops: int
    imu_frames: int
    bad_frames: int
    started_ns: int
    """When the loop started (monotonic ns): fault episodes' onsets count from here."""
    error: str | None = None
    """An internal error that stopped the loop (zero torque was sent); None when it stopped as asked."""


class DeviceRuntime:
    def __init__(
        self,
        runtime: RuntimeConfig,
        device: DeviceConfig,
        subject: SubjectConfig,
        controller: Controller,
        features: FeatureSpec,
        imu_links: list[SerialLink],
        motor_link: SerialLink,
        logger: TrialLogger | None = None,
        on_event: Callable[[str, str], None] | None = None,
    ):
        self.runtime = runtime
        self.controller = controller
        self.imu_links = imu_links
        """One port with every IMU (hipexo), or one per IMU (an Xsens MTi each): the same path from there on."""
        self.motor_link = motor_link
        self.links = imu_links if motor_link in imu_links else [*imu_links, motor_link]
        self.logger = logger
        self.on_event = on_event
        self.window = FeatureWindow(features, device.imu_ids(), mounting_corrections(device, subject))
        self.shaping = ShapingParams.from_config(device, subject, runtime.loop_rate_hz)
        self.shaper = ShaperState.initial(self.shaping)
        self.machine = SafetyMachine(runtime.watchdog)
        self.clock = DeadlineClock(runtime.loop_rate_hz, runtime.spin_before_deadline_s)
        self.inputs = CycleInputs(now_s=0.0)
        self.latest: dict[int, LatestImu] = {}
        self.stop_reason: str | None = None
        self._requests: deque[tuple[str, str]] = deque()  # deque.append is atomic: no lock a handler could deadlock on
        self.cycle = 0
        self._raw_nonfinite = False
        self._frozen: dict[int, int] = {}
        """Per IMU: new samples in a row whose readings equal the previous ones (a stuck sensor)."""
        self._pending_imu: list[tuple[int, int, int, tuple]] = []
        self._pending_status: list[tuple[int, float, float, int, int, float | None]] = []
        self._newest_arrival_ns = 0
        self._fresh: set[int] = set()
        """IMUs with a reading newer than the last cycle's read stage."""
        self._sample_complete_ns = 0
        """When the newest complete sample (every IMU the window reads) arrived, 0 until one does."""
        self._bad_frames_seen = {id(link): 0 for link in self.links}
        self._check_seen = {id(link): 0 for link in self.links}
        self.bad_frames = 0
        self.check_errors = 0
        """Bad frames (failed CRCs or checksums among them) on every link since start, across reconnects."""
        self._sent_at: dict[int, int] = {}
        self._sent_order: deque[int] = deque()
        self._link_was_open = {id(link): link.is_open for link in self.links}
        self.imu_frames = 0
        self._started_ns = self._last_frame_ns = time.monotonic_ns()
        self._status_due_ns = 0
        self._status_frames = 0
        self._transitions: list[tuple[int, dict[str, object]]] = []
        """Fault and state events, for counting fault episodes as every tool does."""
        self.stage = "start"
        """The part of the cycle running now: named in the reason when it raises."""
        self.error: str | None = None

    # --- control from outside (signal handlers, the stdin thread) -------------------------------------
    def request_stop(self, reason: str) -> None:
        """Safe from a signal handler or another thread: only queues the request for the loop."""
        self._requests.append(("stop", reason))

    def mark(self, text: str) -> None:
        """Safe from a signal handler or another thread: the loop logs the marker at its next cycle."""
        self._requests.append(("marker", text))

    def _take_requests(self) -> None:
        while self._requests:
            kind, text = self._requests.popleft()
            if kind == "marker":
                self._event("marker", text)
            elif self.stop_reason is None:
                self.stop_reason = text
                self._event("info", f"stop requested: {text}")

    # --- the loop ------------------------------------------------------------------------------------
    def run(self, duration_s: float | None = None) -> RunSummary:
        timing = CycleTiming()
        end_ns = None if duration_s is None else time.monotonic_ns() + round(duration_s * 1e9)
        self._event("state", f"runtime started: controller {self.controller.name}", state=State.START.name)
        self.clock.restart()
        self._started_ns = self._last_frame_ns = self.clock.start_ns
        interval = self.runtime.status_interval_s
        self._status_due_ns = self.clock.start_ns + round(interval * 1e9) if interval > 0 else 0
        try:
            while self.machine.state != State.STOPPED:
                self.stage = "read"  # waiting for the deadline is reading the IMU port
                self.clock.wait(timing, self._idle, self._sample_due if self.runtime.trigger_on_imu else None)
                if end_ns is not None and timing.start_ns >= end_ns:
                    self.request_stop(f"duration of {duration_s:g} s reached")
                self.step(timing)
            self.stage = "write"
            self._send(0.0, 0.0, CommandFlags.NONE)  # leave the controller with an explicit zero
        except Exception as exc:  # any failure at all: zero torque, the reason logged, a non-zero exit
            self._fail(exc)
        return RunSummary(
            cycles=self.cycle,
            overruns=self.clock.overruns,
            skipped=self.clock.skipped_total,
            faults=fault_episodes(self._transitions),
            final_state=self.machine.state,
            stop_reason=self.stop_reason or "",
            log_drops=self.logger.drops if self.logger else 0,
            imu_frames=self.imu_frames,
            bad_frames=self.bad_frames,
            started_ns=self._started_ns,
            error=self.error,
        )

    def _fail(self, exc: Exception) -> None:
        """Zero torque first, then the reason (each step guarded: the failure may be in any of them)."""
        self.error = f"internal error in the {self.stage} stage: {exc.__class__.__name__}: {exc}"
        transition = self.machine.halt(self.error)
        reset(self.shaper)
        self.motor_link.send_zero(int(State.STOPPED))
        try:
            self._on_transition(transition, time.monotonic_ns(), traceback=traceback.format_exc())
        except Exception:  # noqa: BLE001  (the logger or the console may be what failed; the caller reports)
            pass

    def step(self, timing: CycleTiming) -> None:
        """One cycle, started at ``timing.start_ns`` for ``timing.deadline_ns`` (another clock may drive it)."""
        self._take_requests()
        self._cycle(timing)

    def _cycle(self, timing: CycleTiming) -> None:
        stage = timing.stage_ns
        t0 = timing.start_ns
        now_s = t0 / 1e9
        inputs = self.inputs
        inputs.now_s = now_s

        self.stage = "read"
        self._read_links()
        self._fresh.clear()
        self._sample_complete_ns = 0  # this cycle uses every frame taken so far
        inputs.serial_error = next((link.error for link in self.links if not link.is_open), None)
        inputs.imu_silent_s = (t0 - self._last_frame_ns) / 1e9
        self._phase_lock(timing)
        t1 = time.monotonic_ns()

        self.stage = "features"
        status = self.window.push(self.latest, now_s)
        inputs.imu_max_age_s = status.max_age_s
        inputs.missing_imus = status.missing_imus
        inputs.input_nonfinite = status.nonfinite or self._raw_nonfinite
        self._raw_nonfinite = False
        t2 = time.monotonic_ns()

        self.stage = "infer"
        command = self.controller.command(self.window.tensor(), now_s) if self.window.ready else None
        inputs.command = command
        t3 = time.monotonic_ns()

        self.stage = "shape"
        inputs.overrun_streak = self.clock.overrun_streak
        transition = self.machine.update(
            inputs,
            window_ready=self.window.ready,
            soft_start_done=self.shaper.gain >= 1.0,
            faded_out=self.shaper.faded_out,
            stop_requested=self.stop_reason is not None,
        )
        if transition is not None:
            self._on_transition(transition, t0)
        if self.machine.problem:
            self.window.clear()  # re-arming needs a full window of clean data
        if self.machine.torque_allowed:
            right, left = command if command is not None and self.machine.problem is None else (0.0, 0.0)
            shaped = shape_step(self.shaping, self.shaper, right, left)
        else:
            reset(self.shaper)
            shaped = ShapedTorque(0.0, 0.0)
        t4 = time.monotonic_ns()

        self.stage = "write"
        flags = CommandFlags.ENABLE if self.machine.torque_allowed else CommandFlags.NONE
        sent = self._send(shaped.right_nm, shaped.left_nm, flags)
        t5 = time.monotonic_ns()

        self.stage = "log"
        if self.logger is not None:
            self.logger.cycle(
                CycleRecord(
                    cycle=self.cycle,
                    t_ns=t0,
                    state=int(self.machine.state),
                    imu_frames=self._pending_imu,
                    command=command,
                    shaped=(shaped.right_nm, shaped.left_nm, shaped.clamped, shaped.rate_limited),
                    sent=sent,
                    statuses=self._pending_status,
                    lateness_ns=timing.lateness_ns,
                    skipped=timing.skipped,
                    stage_ns=tuple(stage[name] for name in STAGES),
                    triggered=timing.triggered,
                    overrun=self.clock.overrun_streak > 0,
                    log_drops=self.logger.drops,
                )
            )
            self._pending_imu = []
            self._pending_status = []
        else:
            self._pending_imu.clear()
            self._pending_status.clear()
        t6 = time.monotonic_ns()
        stage["read"], stage["features"], stage["infer"] = t1 - t0, t2 - t1, t3 - t2
        stage["shape"], stage["write"], stage["log"] = t4 - t3, t5 - t4, t6 - t5
        self.clock.end_cycle(timing)
        self.cycle += 1
        if self._status_due_ns and t0 >= self._status_due_ns:
            self._link_status(t0)

    def _link_status(self, t_ns: int) -> None:
        """The console's link-health line: frames/s since the last line, bad frames, faults so far."""
        interval = self.runtime.status_interval_s
        self._status_due_ns = t_ns + round(interval * 1e9)
        rate = (self.imu_frames - self._status_frames) / interval
        self._status_frames = self.imu_frames
        self._event(
            "link",
            f"IMU {rate:.0f} frames/s; {self.bad_frames} bad frames "
            f"({self.check_errors} {self.imu_links[0].decoder.CHECK} errors); "
            f"{len(fault_episodes(self._transitions))} faults; state {self.machine.state.name}",
        )

    # --- pieces --------------------------------------------------------------------------------------
    def _idle(self, timeout_s: float) -> None:
        """Between cycles: block on the IMU ports and take frames in as they arrive (accurate arrival times)."""
        links = {link.fileno(): link for link in self.imu_links if link.is_open}
        if not links:
            time.sleep(timeout_s)
            return
        try:
            ready, _, _ = select.select(list(links), [], [], timeout_s)
        except (OSError, ValueError):
            time.sleep(timeout_s)
            return
        for fd in ready:
            self._take_frames(links[fd])

    def _sample_due(self) -> int:
        """The clock's trigger: when a complete IMU sample arrived that no cycle has used yet (else 0)."""
        return self._sample_complete_ns

    def _read_links(self) -> None:
        for link in self.links:
            key = id(link)
            if not link.is_open and link.maybe_reconnect():
                self._event("info", f"serial port {link.port} reopened")
            if link.is_open != self._link_was_open[key]:
                self._link_was_open[key] = link.is_open
                if not link.is_open:
                    self._event("warning", f"serial port {link.port} lost: {link.error}")
            self._take_frames(link)

    def _take_frames(self, link: SerialLink) -> None:
        frames = link.read_frames()
        now_ns = time.monotonic_ns()
        stats = link.decoder.stats
        key = id(link)
        seen = self._bad_frames_seen[key] if stats.bad_frames >= self._bad_frames_seen[key] else 0  # reopened
        for _ in range(stats.bad_frames - seen):
            self.inputs.bad_frame_times.append(now_ns / 1e9)
        self.bad_frames += stats.bad_frames - seen
        self.check_errors += stats.check_errors - min(self._check_seen[key], stats.check_errors)
        self._bad_frames_seen[key], self._check_seen[key] = stats.bad_frames, stats.check_errors
        for frame in frames:
            message = frame.message
            if isinstance(message, ImuSample):
                for reading in message.readings:
                    if not (math.isfinite(sum(reading.gyro)) and math.isfinite(sum(reading.accel))):
                        self._raw_nonfinite = True  # NaN/Inf anywhere is a sensor fault, used channel or not
                    previous = self.latest.get(reading.imu_id)
                    same = previous is not None and previous.reading[1:3] == reading[1:3]
                    self._frozen[reading.imu_id] = self._frozen.get(reading.imu_id, 0) + 1 if same else 0
                    self.latest[reading.imu_id] = LatestImu(reading, now_ns / 1e9, frame.seq)
                    self._fresh.add(reading.imu_id)
                if not self._sample_complete_ns and self._fresh.issuperset(self.window.imu_ids):
                    self._sample_complete_ns = now_ns
                limit = self.runtime.watchdog.frozen_samples
                self.inputs.frozen_imus = tuple(i for i, n in self._frozen.items() if limit and n >= limit)
                self._pending_imu.append((frame.seq, frame.device_time_us, now_ns, tuple(message.readings)))
                self._newest_arrival_ns = self._last_frame_ns = now_ns
                self.imu_frames += 1
            elif isinstance(message, ControllerStatus):
                sent_at = self._sent_at.get(message.echo_seq)
                rtt_ms = (now_ns - sent_at) / 1e6 if sent_at is not None else None
                self.inputs.controller_estop = bool(message.flags & ControllerFlags.ESTOP)
                self.inputs.controller_fault_bits = int(message.fault_bits)
                if not message.fault_bits:
                    self.inputs.controller_fault_text = None
                self._pending_status.append(
                    (
                        message.echo_seq,
                        message.measured_right_nm,
                        message.measured_left_nm,
                        int(message.fault_bits),
                        int(message.flags),
                        rtt_ms,
                    )
                )
            elif isinstance(message, FaultReport):
                self.inputs.controller_fault_text = f"code {message.code}: {message.text}"
                self.inputs.controller_fault_bits |= ControllerFault.INTERNAL  # until a status frame clears it
                self._event("fault", f"motor controller reports fault {message.code}: {message.text}")

    def _phase_lock(self, timing: CycleTiming) -> None:
        if not self.runtime.phase_lock or self._newest_arrival_ns == 0:
            return
        if self.runtime.trigger_on_imu and not timing.triggered:  # no fresh sample started this cycle
            return
        period = self.clock.period_ns
        if self.runtime.trigger_on_imu:  # the deadline half a period after the sample
            age, target = timing.deadline_ns - self._newest_arrival_ns, period // 2
        else:  # the cycle start a short delay after it
            age, target = timing.start_ns - self._newest_arrival_ns, round(self.runtime.phase_lock_delay_s * 1e9)
        error = phase_error_ns(age, target, period, triggered_loop=self.runtime.trigger_on_imu)
        if error is None:  # no recent frame: nothing to lock to
            return
        slew = round(self.runtime.phase_lock_slew_s * 1e9)
        self.clock.shift(-max(-slew, min(slew, error)))

    def _send(self, right_nm: float, left_nm: float, flags: CommandFlags) -> tuple[int, float, float, int] | None:
        state = int(self.machine.state)
        now_us = time.monotonic_ns() // 1000
        link = self.motor_link
        if not link.send_all((TorqueCommand(right_nm, left_nm, flags, state), Heartbeat(state)), now_us):
            return None
        seq = (link.last_seq_sent - 1) % (1 << 16)  # the command went out just before the heartbeat
        self._sent_at[seq] = time.monotonic_ns()
        self._sent_order.append(seq)
        if len(self._sent_order) > RTT_MEMORY:
            self._sent_at.pop(self._sent_order.popleft(), None)
        return (seq, right_nm, left_nm, int(flags))

    def _on_transition(self, transition: Transition, t_ns: int, **fields: object) -> None:
        kind = "fault" if transition.fault else "state"
        self._event(
            kind,
            transition.reason,
            state=transition.after.name,
            previous=transition.before.name,
            t_cycle=self.cycle,
            **fields,
        )
        if transition.after in (State.ARMED, State.FAULT, State.START):
            reset(self.shaper)  # ARMED: fresh soft start from zero; FAULT: zero at once
        elif transition.after == State.FADING:
            start_fade(self.shaper)
        elif transition.after == State.STOPPED:
            reset(self.shaper)

    def _event(self, kind: str, text: str, **fields: object) -> None:
        t_ns = time.monotonic_ns()
        if kind in ("fault", "state"):
            self._transitions.append((t_ns, {"name": kind, "message": text, "state": fields.get("state")}))
        if self.logger is not None:
            self.logger.event(t_ns, kind, text, **fields)
        if self.on_event is not None:
            self.on_event(kind, text)
