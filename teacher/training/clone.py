"""Clone a hip profile into a teacher's exo head: the warm start for learning assistance with RL.

CMA-ES finds a phase-based profile that lowers the probe for a frozen human (:mod:`teacher.profile_search`), one
per condition. Here the human wears it for a few walks (profiles tuned at several slopes and speeds: each walk
wears the profile interpolated to its condition, so the head learns to change its assistance with both);
the policy network's mean exo commands are then regressed onto the profile's commands on the observations of
those walks, while its muscle outputs are held to what they were (so the human does not change). The result is a
checkpoint that ``init_from`` can start a training run from.
"""

from __future__ import annotations

import json
import pickle
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from teacher.assistance import HipProfile, ProfileAssisted, profile_at
from teacher.training import checkpoint


@dataclass(frozen=True)
class CloneResult:
    samples: int
    exo_rmse: float
    """RMSE of the cloned exo head's commands against the profile's (normalised command units)."""
    muscle_rmse: float
    """RMSE of the muscle outputs against the original head's (how much the human moved)."""


def walks(
    teacher,
    profiles: dict[tuple[float, float], HipProfile],
    full_scale: float,
    speeds: list[float],
    slopes: list[float],
    seeds: list[int],
    seconds: float,
):
    """Observations, the profile's commands and each sample's slope along walks of the human wearing, at each
    speed and slope, the profile interpolated there (:func:`teacher.assistance.profile_at`; exo on)."""
    import dataclasses

    from teacher.config import RootSupportConfig
    from teacher.env import HipExoWalkerEnv

    config = dataclasses.replace(
        teacher.sim_config, exo_enabled=True, exo_driver="policy", root_support=RootSupportConfig(), episode_s=seconds
    )
    env = HipExoWalkerEnv(config)
    observations, commands, walked_slopes = [], [], []
    for slope in slopes:
        for speed in speeds:
            wearer = ProfileAssisted(teacher, profile_at(profiles, speed, slope), full_scale)
            for seed in seeds:
                observations_walk, commands_walk = _walk(env, wearer, speed, slope, seed)
                observations += observations_walk
                commands += commands_walk
                walked_slopes += [slope] * len(commands_walk)
    return (
        np.array(observations, dtype=np.float32),
        np.array(commands, dtype=np.float32),
        np.array(walked_slopes, dtype=np.float32),
    )


def _walk(env, wearer: ProfileAssisted, speed: float, slope: float, seed: int):
    observations, commands = [], []
    obs, _ = env.reset(seed=seed, options={"speed_m_s": speed, "slope_deg": slope})
    while True:
        action = wearer.act(obs)
        observations.append(obs)
        commands.append(action[-2:])
        obs, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            return observations, commands


def clone(
    source: Path,
    out: Path,
    profiles: dict[tuple[float, float], HipProfile],
    full_scale: float,
    speeds: list[float],
    seeds: list[int],
    seconds: float = 10.0,
    slopes: list[float] | None = None,
    epochs: int = 300,
) -> CloneResult:
    """Write ``out/checkpoint``: ``source``'s teacher with its exo head regressed onto ``profiles`` ((speed
    m/s, slope degrees) → profile tuned there), walked at ``speeds`` × ``slopes`` (default: the tuned slopes)."""
    import torch
    from stable_baselines3 import PPO

    from teacher.env.walker import slope_index
    from teacher.policy import TeacherPolicy

    teacher = TeacherPolicy(source)
    tuned_slopes = sorted({slope for _, slope in profiles})
    slopes = tuned_slopes if slopes is None else slopes
    if len(tuned_slopes) > 1 and not teacher.sees(slope_index(teacher.sim_config)):
        raise ValueError(
            f"{source} was trained on level ground only: its policy never sees the slope, so its head cannot "
            "follow profiles that change with it; clone one profile, or start from a teacher trained on slopes"
        )
    observations, commands, walked_slopes = walks(teacher, profiles, full_scale, speeds, slopes, seeds, seconds)
    normalised = teacher.normalise(observations)
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
        "profiles": [
            {"speed_m_s": speed, "slope_deg": slope, **profiles[speed, slope].as_dict()}
            for speed, slope in sorted(profiles, key=lambda condition: (condition[1], condition[0]))
        ],
        "speeds": speeds,
        "slopes": slopes,
        "samples": len(obs),
        "exo_rmse": round(exo_rmse, 5),
        "muscle_rmse": round(muscle_rmse, 5),
    }
    (staging / checkpoint.STATE).write_text(json.dumps(state, indent=2))
    final = checkpoint.checkpoint_dir(out)
    shutil.rmtree(final, ignore_errors=True)
    staging.rename(final)
    with open(out / "clone_data.pkl", "wb") as f:
        pickle.dump({"observations": observations, "commands": commands, "slopes_deg": walked_slopes}, f)
    return CloneResult(len(obs), exo_rmse, muscle_rmse)
