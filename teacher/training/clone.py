"""Clone a hip profile into a teacher's exo head: the warm start for learning assistance with RL.

CMA-ES finds a phase-based profile that lowers the probe for a frozen human (:mod:`teacher.profile_search`).
Here the human wears it for a few walks; the policy network's mean exo commands are then regressed onto the
profile's commands on the observations of those walks, while its muscle outputs are held to what they were
(so the human does not change). The result is a checkpoint that ``init_from`` can start a training run from.
"""

from __future__ import annotations

import json
import pickle
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from teacher.assistance import HipProfile, ProfileAssisted
from teacher.training import checkpoint


@dataclass(frozen=True)
class CloneResult:
    samples: int
    exo_rmse: float
    """RMSE of the cloned exo head's commands against the profile's (normalised command units)."""
    muscle_rmse: float
    """RMSE of the muscle outputs against the original head's (how much the human moved)."""


def walks(teacher, profile: HipProfile, full_scale: float, speeds: list[float], seeds: list[int], seconds: float):
    """Observations and the profile's commands along walks of the human wearing the profile (exo on)."""
    import dataclasses

    from teacher.config import RootSupportConfig
    from teacher.env import HipExoWalkerEnv

    config = dataclasses.replace(
        teacher.sim_config, exo_enabled=True, exo_driver="policy", root_support=RootSupportConfig(), episode_s=seconds
    )
    env = HipExoWalkerEnv(config)
    wearer = ProfileAssisted(teacher, profile, full_scale)
    observations, commands = [], []
    for speed in speeds:
        for seed in seeds:
            obs, _ = env.reset(seed=seed, options={"speed_m_s": speed, "slope_deg": 0.0})
            while True:
                action = wearer.act(obs)
                observations.append(obs)
                commands.append(action[-2:])
                obs, _, terminated, truncated, _ = env.step(action)
                if terminated or truncated:
                    break
    return np.array(observations, dtype=np.float32), np.array(commands, dtype=np.float32)


def clone(
    source: Path,
    out: Path,
    profile: HipProfile,
    full_scale: float,
    speeds: list[float],
    seeds: list[int],
    seconds: float = 10.0,
    epochs: int = 300,
) -> CloneResult:
    """Write ``out/checkpoint``: ``source``'s teacher with its exo head regressed onto ``profile``."""
    import torch
    from stable_baselines3 import PPO

    from teacher.policy import TeacherPolicy

    teacher = TeacherPolicy(source)
    observations, commands = walks(teacher, profile, full_scale, speeds, seeds, seconds)
    normalised = np.clip((observations - teacher._obs_mean) * teacher._obs_scale, -teacher._clip, teacher._clip)
    model: PPO = teacher.model
    policy = model.policy
    obs = torch.as_tensor(normalised)
    target_exo = torch.as_tensor(commands)

    def mean_actions(x: torch.Tensor) -> torch.Tensor:
        latent = policy.mlp_extractor.forward_actor(policy.extract_features(x, policy.pi_features_extractor))
        return policy.action_net(latent)

    with torch.no_grad():
        target_muscles = mean_actions(obs)[:, :-2].clone()
    parameters = list(policy.mlp_extractor.policy_net.parameters()) + list(policy.action_net.parameters())
    optimiser = torch.optim.Adam(parameters, lr=1e-3)
    generator = torch.Generator().manual_seed(0)
    for _ in range(epochs):
        for batch in torch.randperm(len(obs), generator=generator).split(1024):
            mean = mean_actions(obs[batch])
            loss = torch.mean((mean[:, -2:] - target_exo[batch]) ** 2) + torch.mean(
                (mean[:, :-2] - target_muscles[batch]) ** 2
            )
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    with torch.no_grad():
        mean = mean_actions(obs)
        exo_rmse = float(torch.sqrt(torch.mean((mean[:, -2:].clamp(-1, 1) - target_exo) ** 2)))
        muscle_rmse = float(torch.sqrt(torch.mean((mean[:, :-2] - target_muscles) ** 2)))
    staging = out / (checkpoint.CHECKPOINT + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(checkpoint.checkpoint_dir(source), staging)
    model.save(staging / checkpoint.MODEL)
    state = json.loads((staging / checkpoint.STATE).read_text())
    # the exo head now carries the profile: it, not the env, drives the exo of whoever loads this teacher
    stage = state["curriculum"]["stage_name"]
    state["sim_configs"][stage] = {**state["sim_configs"][stage], "exo_enabled": True, "exo_driver": "policy"}
    state["cloned_profile"] = {
        "from": str(source),
        "from_sha256": teacher.hash,
        "profile": profile.as_dict(),
        "speeds": speeds,
        "samples": len(obs),
        "exo_rmse": round(exo_rmse, 5),
        "muscle_rmse": round(muscle_rmse, 5),
    }
    (staging / checkpoint.STATE).write_text(json.dumps(state, indent=2))
    final = checkpoint.checkpoint_dir(out)
    shutil.rmtree(final, ignore_errors=True)
    staging.rename(final)
    with open(out / "clone_data.pkl", "wb") as f:
        pickle.dump({"observations": observations, "commands": commands}, f)
    return CloneResult(len(obs), exo_rmse, muscle_rmse)
