"""A trained teacher as a plain function of the privileged observation, for evaluation, distillation and HIL.

Loads any checkpoint written by ``hipexo teacher train`` (whatever its stage or step count), applies the
saved observation normaliser and maps the policy's [-1, 1] action back to the env's action space.
"""

from __future__ import annotations

import functools
import pickle
from pathlib import Path

import numpy as np
from stable_baselines3 import PPO, SAC

from teacher.config import SimConfig
from teacher.env.walker import action_bounds
from teacher.training import checkpoint

UNSEEN_VARIANCE = 1e-6
"""Observation entries whose variance in training stayed below this never varied (the slope for a teacher
trained on level ground). Normalised, any change in them reads as ±clip, far outside anything the policy saw,
so they are held at their training mean: the teacher acts as it was trained to."""


class TeacherPolicy:
    def __init__(self, run_dir: Path, stage: str | None = None):
        self.run_dir = Path(run_dir)
        summary = checkpoint.CheckpointSummary.read(self.run_dir, stage)
        self.total_steps: int = summary.total_steps
        self.stage: str = summary.stage
        self.sim_config: SimConfig = summary.sim_config
        self.hash: str = summary.hash
        folder = checkpoint.checkpoint_dir(self.run_dir)
        algorithm = PPO if summary.algorithm == "ppo" else SAC
        self.model = algorithm.load(folder / checkpoint.MODEL, device="cpu")
        with open(folder / checkpoint.NORMALISER, "rb") as f:
            normaliser = pickle.load(f)
        self._obs_mean = normaliser.obs_rms.mean.astype(np.float32)
        self._obs_scale = (1.0 / np.sqrt(normaliser.obs_rms.var + normaliser.epsilon)).astype(np.float32)
        self._clip = float(normaliser.clip_obs)
        self._unseen = normaliser.obs_rms.var < UNSEEN_VARIANCE
        self._env_low, self._env_high = action_bounds(
            self.model.action_space.shape[0] - 2, self.sim_config.tracking_prior.enabled
        )

    def normalise(self, observations: np.ndarray) -> np.ndarray:
        """What the network sees of one observation or a batch: normalised as in training, clipped, and the
        entries training never varied held at their mean (:data:`UNSEEN_VARIANCE`)."""
        normalised = np.clip((observations - self._obs_mean) * self._obs_scale, -self._clip, self._clip)
        normalised[..., self._unseen] = 0.0
        return normalised

    def sees(self, index: int) -> bool:
        """Whether observation entry ``index`` varied in training (the slope, for a teacher that walked slopes)."""
        return not bool(self._unseen[index])

    def act(self, observation: np.ndarray) -> np.ndarray:
        """Deterministic action in the env's own space (``action_bounds``)."""
        action, _ = self.model.predict(self.normalise(observation), deterministic=True)
        unit = np.clip(action, -1.0, 1.0)
        return self._env_low + (unit + 1.0) * 0.5 * (self._env_high - self._env_low)


@functools.lru_cache(maxsize=4)
def cached_policy(run_dir: str, checkpoint_hash: str) -> TeacherPolicy:
    """The teacher at ``run_dir``, loaded once per worker process for all its parallel tasks.

    It must be the checkpoint the driver hashed: a cluster worker with another copy of ``models/`` fails
    instead of mixing two teachers in one grid.
    """
    teacher = TeacherPolicy(Path(run_dir))
    if teacher.hash != checkpoint_hash:
        raise RuntimeError(f"{run_dir} holds checkpoint {teacher.hash} on this worker, not {checkpoint_hash}")
    return teacher
