"""Motor-controller emulator: what the exo's motor firmware does with the runtime's commands.

- **Command watchdog.** With no valid command for ``watchdog_s``, the target torque goes to zero and the
  COMMAND_WATCHDOG fault bit is set, until commands return. This is the motor side's own protection if
  the runtime dies or the link breaks.
- **Actuator.** First-order dynamics (time constant ``tau_s``) towards the target, clamped to
  ``limit_nm``.
- **Status.** One ControllerStatus per command received, echoing its seq (for round-trip timing), with
  the measured torque, the fault bits and the e-stop and enabled flags.
- **Injected faults.** An e-stop, or fault bits.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from firmware_bridge.protocol.messages import ControllerFault, ControllerFlags, ControllerStatus, TorqueCommand
from hil.pty_link import FramePeer


@dataclass
class ReceivedCommand:
    t_s: float
    seq: int
    right_nm: float
    left_nm: float
    enabled: bool


@dataclass
class MotorControllerEmulator:
    peer: FramePeer
    watchdog_s: float = 0.05
    tau_s: float = 0.01
    limit_nm: float = 40.0
    estop: bool = False
    injected_fault_bits: int = 0
    target: list[float] = field(default_factory=lambda: [0.0, 0.0])
    measured: list[float] = field(default_factory=lambda: [0.0, 0.0])
    last_valid_s: float | None = None
    watchdog_tripped: bool = False
    commands: list[ReceivedCommand] = field(default_factory=list)

    def service(self, now_s: float, dt_s: float) -> None:
        """Take in what the runtime sent, answer each command, and advance the actuator by ``dt_s``."""
        for frame in self.peer.poll():
            message = frame.message
            if not isinstance(message, TorqueCommand):
                continue
            enabled = message.enabled and not self.estop
            self.commands.append(ReceivedCommand(now_s, frame.seq, message.right_nm, message.left_nm, message.enabled))
            self.last_valid_s = now_s  # any valid command, enabled or not, proves the runtime is alive
            self.watchdog_tripped = False
            if enabled:
                self.target = [max(-self.limit_nm, min(self.limit_nm, v)) for v in (message.right_nm, message.left_nm)]
            else:
                self.target = [0.0, 0.0]
            self.peer.send(
                ControllerStatus(frame.seq, self.measured[0], self.measured[1], self.fault_bits, self.flags(enabled))
            )
        if self.last_valid_s is not None and now_s - self.last_valid_s > self.watchdog_s:
            self.target = [0.0, 0.0]
            self.watchdog_tripped = True
        alpha = min(1.0, dt_s / self.tau_s)
        self.measured = [m + alpha * (t - m) for m, t in zip(self.measured, self.target, strict=True)]

    @property
    def fault_bits(self) -> int:
        return self.injected_fault_bits | (ControllerFault.COMMAND_WATCHDOG if self.watchdog_tripped else 0)

    def flags(self, enabled: bool) -> int:
        return (ControllerFlags.ESTOP if self.estop else 0) | (ControllerFlags.ENABLED if enabled else 0)
