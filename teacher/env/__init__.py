"""The Gymnasium env of the teacher; importing it registers ``hipexo/HipExoWalker-v0``."""

import gymnasium as gym

from teacher.env.walker import ENV_ID, HipExoWalkerEnv

if ENV_ID not in gym.registry:
    gym.register(id=ENV_ID, entry_point="teacher.env.walker:HipExoWalkerEnv")

__all__ = ["ENV_ID", "HipExoWalkerEnv"]
