"""``hipexo sim check``: print the walker's model summary and step it for a few seconds."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from tools.vocabulary import add_duration


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("sim", help="the musculoskeletal simulator (needs the train extra)")
    sub = parser.add_subparsers(metavar="ACTION", required=True)
    check = sub.add_parser("check", help="print the model summary and step the walker")
    check.add_argument("--config", type=Path, default=None, help="sim config (default configs/sim/default.yaml)")
    add_duration(check, 3.0, "simulated time to step")
    check.add_argument("--seed", type=int, default=0, help="seeds the reset and the random excitations")
    check.set_defaults(func=run_check)
    render = sub.add_parser("render", help="a PNG strip of an episode (stick figure when there is no OpenGL)")
    render.add_argument(
        "--teacher", type=Path, default=None, help="teacher run dir (default: small random excitations)"
    )
    render.add_argument("--config", type=Path, default=None, help="sim config (default: the teacher's, else default)")
    add_duration(render, 2.0, "episode length")
    render.add_argument("--frames", type=int, default=8, help="frames in the strip")
    render.add_argument("--speed", type=float, default=1.25, help="walking speed, m/s")
    render.add_argument("--slope", type=float, default=0.0, help="slope in degrees (+ uphill)")
    render.add_argument("--seed", type=int, default=0, help="episode seed")
    render.add_argument("--out", type=Path, default=Path("out/sim_render.png"), metavar="FILE", help="the PNG to write")
    render.set_defaults(func=run_render)
    scone = sub.add_parser("scone-scenarios", help="write one SCONE scenario per slope for the SCONE backend")
    scone.add_argument("--model-file", type=Path, required=True, help="the .hfd/.osim model with hip_motor_r/l")
    scone.add_argument("--state-init-file", type=Path, required=True, help="initial state (.zml)")
    scone.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder for the scenario files")
    scone.set_defaults(func=run_scone_scenarios)


def run_check(args: argparse.Namespace) -> int:
    from teacher.env import HipExoWalkerEnv

    started = time.perf_counter()
    env = HipExoWalkerEnv(args.config)
    backend = env.backend
    built = time.perf_counter() - started
    print(f"backend           {type(backend).__name__}")
    print(f"body mass         {backend.body_mass_kg:.2f} kg (subject {env.subject.body_mass_kg} kg + device)")
    print(f"muscles ({len(backend.muscle_names)})      {', '.join(backend.muscle_names)}")
    print(
        f"exo actuators     hip flexion right/left, shaped at {env.config.device_rate_hz:g} Hz, limit {env.shaping.torque_limit_nm} N·m"
    )
    print(f"IMUs              {', '.join(backend.imu_names)} (gyro + accelerometer each)")
    print(f"rates             physics {1 / env.config.physics_dt_s:g} Hz, control {env.config.control_rate_hz:g} Hz")
    print(f"observation       {env.observation_space.shape[0]} values, action {env.action_space.shape[0]} values")
    print(f"model built in    {built:.1f} s")
    env.reset(seed=args.seed)
    rng = np.random.default_rng(args.seed)
    steps = round(args.duration * env.config.control_rate_hz)
    falls = 0
    metabolic = []
    started = time.perf_counter()
    for _ in tqdm(range(steps), desc="stepping (random excitations)", unit="step"):
        action = rng.uniform(env.action_space.low, env.action_space.high).astype(np.float32)
        _, _, terminated, truncated, info = env.step(action)
        metabolic.append(info["metabolic_w_per_kg"])
        if terminated or truncated:
            falls += int(terminated)
            env.reset()
    elapsed = time.perf_counter() - started
    print(
        f"stepped           {args.duration:g} s simulated in {elapsed:.2f} s ({steps / elapsed:.0f} env steps/s), {falls} falls"
    )
    print(f"metabolic probe   mean {np.mean(metabolic):.2f} W/kg under random excitation")
    return 0


def run_scone_scenarios(args: argparse.Namespace) -> int:
    from teacher.sim.scone_scenarios import write_slope_scenarios

    written = write_slope_scenarios(args.out, args.model_file, args.state_init_file)
    print(f"wrote {len(written)} scenarios to {args.out} ({written[0].name} … {written[-1].name})")
    return 0


def run_render(args: argparse.Namespace) -> int:
    from teacher.env import HipExoWalkerEnv
    from teacher.sim.render import draw_strip, offscreen_available, record_episode

    teacher = None
    if args.teacher is not None:
        from teacher.policy import TeacherPolicy
        from tools.commands.teacher import teacher_run

        teacher_run(args.teacher)
        teacher = TeacherPolicy(args.teacher)
    env = HipExoWalkerEnv(args.config if args.config or teacher is None else teacher.sim_config)
    options = {"speed_m_s": args.speed, "slope_deg": args.slope, "phase": 0.0}
    rng = np.random.default_rng(args.seed)

    def act(obs: np.ndarray) -> np.ndarray:
        if teacher is not None:
            return teacher.act(obs)
        return rng.uniform(env.action_space.low, env.action_space.high).astype(np.float32) * 0.2

    frames = record_episode(env, act, args.duration, args.seed, options)
    if not offscreen_available():
        print("no OpenGL context for MuJoCo's offscreen renderer here: drawing a stick figure")
    who = f"teacher {args.teacher} ({teacher.total_steps} steps)" if teacher else "small random excitations"
    title = f"{who}, {args.speed:g} m/s, slope {args.slope:+g}°"
    path = draw_strip(frames, args.out, args.frames, args.slope, title)
    print(f"wrote {path} ({len(frames)} control steps)")
    return 0
