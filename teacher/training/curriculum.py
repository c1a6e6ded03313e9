"""Curriculum: stages that advance on measured criteria from recent training episodes, not only step counts.

Pure state (a list of finished-episode summaries and a stage index) so that it goes into the checkpoint
as JSON and a resumed run continues from the same place.
"""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from teacher.training.config import StageConfig


@dataclass(frozen=True)
class EpisodeSummary:
    fell: bool
    """Ended by early termination (root off the reference by more than the limit), not by the time limit."""
    joint_tracking: float
    """Mean exp(-gain·err²) of the joint-position term (1 = perfect imitation)."""
    speed_error_m_s: float
    """|mean forward COM velocity − target speed|."""
    length: int


@dataclass
class StageStats:
    episodes: int
    fall_rate: float
    joint_tracking: float
    speed_error_m_s: float
    mean_length: float


class Curriculum:
    def __init__(self, stages: list[StageConfig]):
        self.stages = stages
        self.stage = 0
        self.stage_started_at = 0
        self.transitions: list[dict[str, Any]] = []
        self._recent: deque[EpisodeSummary] = deque(maxlen=self._window())

    @property
    def current(self) -> StageConfig:
        return self.stages[self.stage]

    def _window(self) -> int:
        rule = self.current.advance_when
        return rule.episodes if rule is not None else 100

    def record(self, episode: EpisodeSummary) -> None:
        self._recent.append(episode)

    def stats(self) -> StageStats | None:
        if not self._recent:
            return None
        recent = list(self._recent)
        return StageStats(
            episodes=len(recent),
            fall_rate=float(np.mean([e.fell for e in recent])),
            joint_tracking=float(np.mean([e.joint_tracking for e in recent])),
            speed_error_m_s=float(np.mean([e.speed_error_m_s for e in recent])),
            mean_length=float(np.mean([e.length for e in recent])),
        )

    def ready_to_advance(self, num_timesteps: int) -> bool:
        rule = self.current.advance_when
        stats = self.stats()
        if rule is None or stats is None or stats.episodes < rule.episodes:
            return False
        return (
            num_timesteps - self.stage_started_at >= rule.min_steps
            and stats.fall_rate <= rule.fall_rate_max
            and stats.joint_tracking >= rule.joint_tracking_min
            and stats.speed_error_m_s <= rule.speed_error_max_m_s
        )

    def advance(self, num_timesteps: int, wall_s: float) -> None:
        stats = self.stats()
        self.transitions.append(
            {
                "from": self.current.name,
                "to": self.stages[self.stage + 1].name,
                "at_step": num_timesteps,
                "at_wall_s": round(wall_s, 1),
                "stats": asdict(stats) if stats else None,
            }
        )
        self.stage += 1
        self.stage_started_at = num_timesteps
        self._recent = deque(maxlen=self._window())

    def state_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "stage_name": self.current.name,
            "stage_started_at": self.stage_started_at,
            "transitions": self.transitions,
            "recent": [asdict(e) for e in self._recent],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state["stage"] >= len(self.stages) or self.stages[state["stage"]].name != state["stage_name"]:
            raise ValueError(
                f"checkpoint is in stage {state['stage_name']!r} (#{state['stage']}), "
                f"which this config's stages {[s.name for s in self.stages]} do not have there"
            )
        self.stage = state["stage"]
        self.stage_started_at = state["stage_started_at"]
        self.transitions = list(state["transitions"])
        self._recent = deque((EpisodeSummary(**e) for e in state["recent"]), maxlen=self._window())
