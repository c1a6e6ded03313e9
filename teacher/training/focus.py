"""Focus: draw a stage's training conditions where the walker falls, not uniformly over its range.

A stage's speed × slope range is cut into cells, and each cell keeps whether its most recent training episodes
fell. Drawn uniformly, most episodes land where the walker already walks, while the cells that fall (the speed
ends, uphill) get a few per cent each; a fine-tune at a low learning rate then barely moves them. With a stage's
``focus``, each reset draws a cell (uniformly with probability ``1 − share``, else in proportion to the cells' fall
rates), then a speed and slope uniformly within it. The uniform share keeps every cell in training, so walking
where it already works is not forgotten.

Pure state (:class:`CellFalls`) that goes into the checkpoint as JSON, and a Gymnasium wrapper
(:class:`FocusedConditions`) that the trainer tells which cells to draw from at each rollout boundary. The same
wrapper draws which episodes wear the exo at zero torque (a stage's ``exo_off_share``): a walker trained only with
the exo on co-adapts to its torque and falls where the paired eval walks it unassisted.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import gymnasium as gym
import numpy as np

from teacher.training.config import FocusConfig

Cell = tuple[tuple[float, float], tuple[float, float]]
"""((speed low, speed high) m/s, (slope low, slope high) °)."""


class CellFalls:
    """Falls of the recent training episodes per cell of a speed × slope range."""

    def __init__(self, config: FocusConfig, speed_range_m_s: list[float], slope_range_deg: list[float]):
        self.config = config
        speeds = np.round(np.linspace(*speed_range_m_s, config.speed_cells + 1), 6)  # readable in cells.csv
        slopes = np.round(np.linspace(*slope_range_deg, config.slope_cells + 1), 6)
        self._speed_edges, self._slope_edges = speeds, slopes
        self.cells: list[Cell] = [
            ((float(speeds[i]), float(speeds[i + 1])), (float(slopes[j]), float(slopes[j + 1])))
            for i in range(config.speed_cells)
            for j in range(config.slope_cells)
        ]
        self._falls: list[deque[bool]] = [deque(maxlen=config.window) for _ in self.cells]

    def record(self, speed_m_s: float, slope_deg: float, fell: bool) -> None:
        i = int(
            np.clip(np.searchsorted(self._speed_edges, speed_m_s, side="right") - 1, 0, self.config.speed_cells - 1)
        )
        j = int(
            np.clip(np.searchsorted(self._slope_edges, slope_deg, side="right") - 1, 0, self.config.slope_cells - 1)
        )
        self._falls[i * self.config.slope_cells + j].append(bool(fell))

    def episodes(self) -> np.ndarray:
        return np.array([len(f) for f in self._falls])

    def fall_rates(self) -> np.ndarray:
        """Per cell, the share of its recent episodes that fell; NaN where none finished yet."""
        return np.array([np.mean(f) if f else np.nan for f in self._falls])

    def probabilities(self) -> np.ndarray:
        """How each reset draws a cell: ``1 − share`` uniformly, ``share`` by fall rate (an unseen cell counts as
        falling, so it is visited; where nothing falls, uniformly)."""
        rates = np.nan_to_num(self.fall_rates(), nan=1.0)
        uniform = np.full(len(self.cells), 1.0 / len(self.cells))
        by_falls = rates / rates.sum() if rates.sum() > 0 else uniform
        return (1.0 - self.config.share) * uniform + self.config.share * by_falls

    def state_dict(self) -> dict[str, Any]:
        return {"cells": self.cells, "falls": [[int(x) for x in f] for f in self._falls]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the falls where the cells are the same (a config that changed them starts them afresh)."""
        if [tuple(map(tuple, c)) for c in state["cells"]] != self.cells:
            return
        for window, falls in zip(self._falls, state["falls"], strict=True):
            window.extend(bool(x) for x in falls)


class FocusedConditions(gym.Wrapper):
    """Draws each reset's speed and slope from weighted cells (:class:`CellFalls`); without cells, or where the
    reset's options name a condition, the walker draws its own (uniformly over its config's ranges). With an
    ``exo_off_share``, that share of resets wears the exo at zero torque, unless the options say."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self._cells: list[Cell] | None = None
        self._probabilities: np.ndarray | None = None
        self._exo_off_share = 0.0
        self._rng = np.random.default_rng()

    def set_focus(self, cells: list[Cell] | None, probabilities: list[float] | None) -> None:
        """Takes effect from the next reset; ``None`` goes back to uniform draws."""
        self._cells = None if cells is None else [tuple(map(tuple, c)) for c in cells]
        self._probabilities = None if probabilities is None else np.asarray(probabilities, dtype=float)

    def set_exo_off_share(self, share: float) -> None:
        """Takes effect from the next reset."""
        self._exo_off_share = float(share)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        options = dict(options or {})
        if self._exo_off_share > 0.0 and "exo_on" not in options:
            options["exo_on"] = bool(self._rng.random() >= self._exo_off_share)
        if self._cells is not None and not ({"speed_m_s", "slope_deg"} & options.keys()):
            (speed_low, speed_high), (slope_low, slope_high) = self._cells[
                self._rng.choice(len(self._cells), p=self._probabilities)
            ]
            options["speed_m_s"] = float(self._rng.uniform(speed_low, speed_high))
            options["slope_deg"] = float(self._rng.uniform(slope_low, slope_high))
        return self.env.reset(seed=seed, options=options)
