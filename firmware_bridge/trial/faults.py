"""What a fault is, once for every tool: an episode from its onset to its recovery.

The runtime, ``hipexo trial inspect``, the trial report and the bench report all count and list faults
with :func:`fault_episodes`, over the same ``/events`` stream (the runtime over the events it logs):

An event is a ``/events`` message (``foxglove.Log``): ``name`` is its kind, ``message`` its text, ``state`` the
state it entered.

- an event of kind ``fault`` opens an episode when none is open; while one is open, further ``fault``
  events (a different check tripping) add their reasons to it;
- the next ``state`` event closes it: ``ARMED`` means it recovered (re-armed through soft start),
  ``STOPPED`` that the run ended in it;
- a ``fault`` event that itself enters ``STOPPED`` (a fault while fading out, an internal error) is an
  episode that ends the run at its onset;
- an episode still open when the events end (the log was cut short) has no end.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class FaultEpisode:
    onset_ns: int
    reasons: list[str] = field(default_factory=list)
    end_ns: int | None = None
    outcome: str = "open"
    """'recovered' (re-armed), 'stopped' (the run ended in it) or 'open' (no end in the log)."""

    @property
    def duration_s(self) -> float | None:
        return None if self.end_ns is None else (self.end_ns - self.onset_ns) / 1e9

    def describe(self, t0_ns: int) -> str:
        """One line: when (s from ``t0_ns``), how long, how it ended, and why."""
        when = f"{(self.onset_ns - t0_ns) / 1e9:.2f} s"
        length = "" if self.duration_s is None else f" for {self.duration_s:.3f} s"
        return f"{when}{length}, {self.outcome}: " + "; then ".join(self.reasons)

    def as_dict(self, t0_ns: int) -> dict[str, Any]:
        return {
            "onset_s": (self.onset_ns - t0_ns) / 1e9,
            "duration_s": self.duration_s,
            "outcome": self.outcome,
            "reasons": list(self.reasons),
            "text": self.describe(t0_ns),
        }


def fault_episodes(events: Iterable[tuple[int, dict[str, Any]]]) -> list[FaultEpisode]:
    """Episodes from ``(t_ns, event)`` pairs in time order (an event: ``name`` (kind), ``message``, ``state``)."""
    episodes: list[FaultEpisode] = []
    current: FaultEpisode | None = None
    for t_ns, event in events:
        kind = event.get("name")
        if kind == "fault":
            if current is None:
                current = FaultEpisode(t_ns)
                episodes.append(current)
            current.reasons.append(str(event.get("message", "")))
            if event.get("state") == "STOPPED":
                current.end_ns, current.outcome, current = t_ns, "stopped", None
        elif kind == "state" and current is not None:
            current.end_ns = t_ns
            current.outcome = "recovered" if event.get("state") == "ARMED" else "stopped"
            current = None
    return episodes
