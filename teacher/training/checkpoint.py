"""Checkpoint layout of a teacher run directory, written atomically so a crash never leaves half a checkpoint.

RUN_DIR/checkpoint/model.zip        SB3 policy + optimiser (+ step counters)
RUN_DIR/checkpoint/vecnormalize.pkl observation/return normaliser statistics
RUN_DIR/checkpoint/state.json       curriculum, total steps, wall time, each stage's sim config
RUN_DIR/checkpoint/rng.pkl          Python, NumPy and torch RNG states
RUN_DIR/checkpoint/replay_buffer.pkl  (SAC only)
"""

from __future__ import annotations

import hashlib
import json
import pickle
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from firmware_bridge.atomic import atomic_folder
from firmware_bridge.config.schema import build
from teacher.config import SimConfig

CHECKPOINT = "checkpoint"
MODEL = "model.zip"
NORMALISER = "vecnormalize.pkl"
STATE = "state.json"
RNG = "rng.pkl"
REPLAY_BUFFER = "replay_buffer.pkl"


def checkpoint_dir(run_dir: Path) -> Path:
    return Path(run_dir) / CHECKPOINT


def save_checkpoint(run_dir: Path, model: Any, normaliser: Any, state: dict[str, Any]) -> Path:
    """Write into a staging folder that then takes the place of the previous checkpoint (firmware_bridge.atomic)."""
    import torch  # here, not at the top: reading a checkpoint's state and hash must not need torch

    final = checkpoint_dir(run_dir)
    with atomic_folder(final) as staging:
        model.save(staging / MODEL)
        normaliser.save(str(staging / NORMALISER))
        if hasattr(model, "save_replay_buffer"):
            model.save_replay_buffer(staging / REPLAY_BUFFER)
        rng = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
        (staging / RNG).write_bytes(pickle.dumps(rng))
        (staging / STATE).write_text(json.dumps(state, indent=2))
    return final


def read_state(run_dir: Path) -> dict[str, Any]:
    path = checkpoint_dir(run_dir) / STATE
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir}: no teacher checkpoint (expected {path})")
    return json.loads(path.read_text())


def restore_rng(run_dir: Path) -> None:
    import torch

    with open(checkpoint_dir(run_dir) / RNG, "rb") as f:
        states = pickle.load(f)
    random.setstate(states["python"])
    np.random.set_state(states["numpy"])
    torch.set_rng_state(states["torch"])


def checkpoint_hash(run_dir: Path) -> str:
    """SHA-256 over the policy and normaliser: the teacher's identity in datasets and bundles."""
    digest = hashlib.sha256()
    for name in (MODEL, NORMALISER):
        digest.update((checkpoint_dir(run_dir) / name).read_bytes())
    return digest.hexdigest()


def load_stage_sim_config(state: dict, stage: str | None = None) -> SimConfig:
    """The sim config a checkpoint was trained under (its current stage unless named)."""
    name = stage or state["curriculum"]["stage_name"]
    return build(SimConfig, state["sim_configs"][name], source=f"checkpoint stage {name}")


@dataclass(frozen=True)
class CheckpointSummary:
    """What a driver needs to know of a teacher without loading it (no torch): its identity and sim config.

    Parallel work loads the policy in its workers; the driver (eval grid, distillation) only names it.
    """

    run_dir: Path
    hash: str
    algorithm: str
    total_steps: int
    wall_s: float
    stage: str
    sim_config: SimConfig

    @classmethod
    def read(cls, run_dir: Path, stage: str | None = None) -> CheckpointSummary:
        state = read_state(run_dir)
        stage = stage or state["curriculum"]["stage_name"]
        return cls(
            Path(run_dir),
            checkpoint_hash(run_dir),
            state["algorithm"],
            state["total_steps"],
            state["wall_s"],
            stage,
            load_stage_sim_config(state, stage),
        )
