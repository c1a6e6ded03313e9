"""``hipexo sim render``: a PNG strip of an episode.

MuJoCo's offscreen renderer needs an OpenGL context (EGL or OSMesa); where there is none (as on this
project's headless machines) the strip is a stick figure drawn with matplotlib from the segment origins:
torso, pelvis, hip → knee → ankle → heel → toes per side, right in red and left in blue, with the exo
torque per side written under each frame.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

CHAIN = ("femur", "tibia", "talus", "calcn", "toes")
SIDE_COLOURS = {"r": "tab:red", "l": "tab:blue"}


def record_episode(
    env, act: Callable[[np.ndarray], np.ndarray], seconds: float, seed: int, options: dict | None = None
) -> list[dict]:
    """Roll the env out and keep, per control step, the segment points (x, z) and the exo torque."""
    model, data = env.backend.model, env.backend.data
    ids = {name: model.body(name).id for name in ("torso", "pelvis")}
    ids.update({f"{seg}_{side}": model.body(f"{seg}_{side}").id for seg in CHAIN for side in "rl"})
    obs, _ = env.reset(seed=seed, options=options)
    frames = []
    for _ in range(round(seconds * env.config.control_rate_hz)):
        obs, _, terminated, truncated, info = env.step(act(obs))
        points = {name: data.xpos[i][[0, 2]].copy() for name, i in ids.items()}
        frames.append({"points": points, "torque": info["exo_torque_nm"][-1], "time": data.time, "fell": terminated})
        if terminated or truncated:
            break
    return frames


def draw_strip(frames: list[dict], path: Path, count: int, slope_deg: float, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    chosen = [frames[int(i)] for i in np.linspace(0, len(frames) - 1, min(count, len(frames)))]
    fig, axes = plt.subplots(1, len(chosen), figsize=(1.8 * len(chosen), 3.2), sharey=True)
    axes = np.atleast_1d(axes)
    for ax, frame in zip(axes, chosen, strict=True):
        p = frame["points"]
        origin = p["pelvis"][0]
        ax.plot(*_xs_zs([p["torso"], p["pelvis"]], origin), color="0.3", lw=3)
        for side, colour in SIDE_COLOURS.items():
            chain = [p["pelvis"], *(p[f"{seg}_{side}"] for seg in CHAIN)]
            ax.plot(*_xs_zs(chain, origin), color=colour, lw=2, marker="o", ms=3)
        xs = np.array([-0.8, 0.8])
        ax.plot(xs, (xs + origin) * np.tan(np.radians(slope_deg)), color="0.6", lw=1)
        ax.set_xlim(-0.8, 0.8)
        ax.set_aspect("equal")
        ax.set_title(f"t={frame['time']:.2f} s" + (" (fell)" if frame["fell"] else ""), fontsize=8)
        ax.set_xlabel(f"exo R {frame['torque'][0]:+.1f}\nL {frame['torque'][1]:+.1f} N·m", fontsize=7)
        ax.set_xticks([])
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _xs_zs(points: list[np.ndarray], origin: float) -> tuple[np.ndarray, np.ndarray]:
    array = np.array(points)
    return array[:, 0] - origin, array[:, 1]


def offscreen_available() -> bool:
    """Whether MuJoCo can open an offscreen OpenGL context here."""
    try:
        import mujoco

        model = mujoco.MjModel.from_xml_string("<mujoco><worldbody/></mujoco>")
        mujoco.Renderer(model, 16, 16).close()
        return True
    except Exception:  # no GL backend: EGL/OSMesa missing raises assorted errors
        return False
