"""``hipexo teacher train``: train (or resume) the privileged teacher."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from firmware_bridge.config.paths import default_config
from tools.commands import parallel
from tools.errors import UserError
from tools.vocabulary import add_duration, add_json_option, add_renamed, write_json_output


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("teacher", help="train and evaluate the privileged teacher (needs the train extra)")
    sub = parser.add_subparsers(metavar="ACTION", required=True)
    train = sub.add_parser("train", help="train with Stable-Baselines3 through the curriculum; checkpoints resume")
    train.add_argument("--config", type=Path, default=default_config("teacher"), help="teacher config (kind: teacher)")
    add_renamed(
        train, "--out", ["--run-dir"], type=Path, default=None, metavar="DIR", help="override the config's run_dir"
    )
    train.add_argument("--resume", action="store_true", help="continue from the run directory's checkpoint/")
    train.add_argument("--steps", type=int, default=None, help="env steps for this sitting (default: to total_steps)")
    train.add_argument("--no-progress", action="store_true", help="no progress bar (for logs)")
    parallel.add_options(train, workers=False)  # the env workers as Ray actors (teacher/training/grouped_vec_env.py)
    train.set_defaults(func=run_train)
    ev = sub.add_parser("eval", help="speeds × slopes grid, exo off and on: report (Markdown + PNG) and JSON")
    ev.add_argument("run_dir", type=Path, metavar="CHECKPOINT", help="teacher run directory (holds checkpoint/)")
    ev.add_argument("--speeds", type=float, nargs="+", default=None, help="default 0.8 1.0 1.25 1.5")
    ev.add_argument("--slopes", type=float, nargs="+", default=None, help="default -10 -5 0 5 10")
    ev.add_argument("--episodes", type=int, default=16, help="seeds per condition, each walked exo off and on")
    ev.add_argument(
        "--first-seed",
        type=int,
        default=0,
        help="condition i walks seeds 1000 i + FIRST_SEED + k: choose among checkpoints on seeds other than those reported",
    )
    add_duration(ev, 10.0, "episode length")
    parallel.add_options(ev)
    ev.add_argument("--out", type=Path, default=None, help="report folder (default: CHECKPOINT/eval)")
    add_json_option(ev, "also the figures")
    ev.add_argument(
        "--restart", action="store_true", help="recompute every episode (default: keep those in OUT/episodes)"
    )
    ev.set_defaults(func=run_eval)
    tune = sub.add_parser(
        "tune-prior", help="cross-entropy search of the tracking prior's gains for unsupported walking (zero residual)"
    )
    add_renamed(
        tune,
        "--config",
        ["--sim"],
        type=Path,
        default=default_config("sim"),
        help="sim config whose gains start the search",
    )
    tune.add_argument("--generations", type=int, default=15, help="cross-entropy generations")
    tune.add_argument("--population", type=int, default=24, help="candidates per generation")
    tune.add_argument("--steps", type=int, default=250, help="control steps per episode (50 per second)")
    tune.add_argument("--speeds", type=float, nargs="+", default=[0.8, 1.0, 1.25, 1.5], help="walking speeds, m/s")
    tune.add_argument("--phases", type=float, nargs="+", default=[0.0, 0.5], help="gait phases to start from")
    tune.add_argument("--spread", type=float, default=0.3, help="initial spread, as a share of each gain's range")
    tune.add_argument("--seed", type=int, default=0, help="seeds the search's sampling")
    parallel.add_options(tune)
    tune.add_argument("--out", type=Path, default=Path("runs/prior-search"), help="writes search.csv and best.yaml")
    tune.add_argument("--no-progress", action="store_true", help="no progress bar (for logs)")
    tune.add_argument(
        "--evaluate-only", action="store_true", help="no search: walk the sim config's own gains and print survival"
    )
    tune.set_defaults(func=run_tune_prior)
    prof = sub.add_parser(
        "tune-profile",
        help="CMA-ES over a phase-based hip profile worn by a frozen teacher, scored by the paired metabolic reduction",
    )
    prof.add_argument("run_dir", type=Path, metavar="CHECKPOINT", help="teacher run directory: the frozen human")
    prof.add_argument("--speed", type=float, default=1.25, help="walking speed, m/s (one profile per condition)")
    prof.add_argument("--slope", type=float, default=0.0, help="slope in degrees (+ uphill)")
    prof.add_argument("--episodes", type=int, default=16, help="paired seeds per candidate")
    add_duration(prof, 10.0, "episode length")
    prof.add_argument("--generations", type=int, default=30, help="stop after this many (a rerun resumes)")
    prof.add_argument("--population", type=int, default=8, help="candidates per generation")
    prof.add_argument("--start", type=Path, default=None, help="best.json of a search to start from (another speed)")
    parallel.add_options(prof)
    prof.add_argument("--out", type=Path, default=Path("runs/profile"), help="search state, history.jsonl, best.json")
    prof.set_defaults(func=run_tune_profile)
    slope = sub.add_parser(
        "tune-slope",
        help="CMA-ES over how the tracking prior walks one slope (lean, offsets, stance push-off), a frozen teacher on top",
    )
    slope.add_argument("run_dir", type=Path, metavar="CHECKPOINT", help="teacher run directory: the frozen residual")
    slope.add_argument("--slope", type=float, required=True, help="slope in degrees (+ uphill)")
    slope.add_argument("--speeds", type=float, nargs="+", default=[0.8, 1.25, 1.5], help="walks at these speeds")
    slope.add_argument("--episodes", type=int, default=2, help="seeds per speed")
    add_duration(slope, 10.0, "episode length")
    slope.add_argument("--generations", type=int, default=30, help="stop after this many (a rerun resumes)")
    slope.add_argument("--population", type=int, default=8, help="candidates per generation")
    slope.add_argument("--start", type=Path, default=None, help="best.json of a search at a neighbouring slope")
    parallel.add_options(slope)
    slope.add_argument("--out", type=Path, default=Path("runs/slope"), help="search state, history.jsonl, best.json")
    slope.set_defaults(func=run_tune_slope)
    cl = sub.add_parser(
        "clone-profile",
        help="regress a teacher's exo head onto tuned hip profiles (muscles held): a checkpoint to fine-tune from",
    )
    cl.add_argument("run_dir", type=Path, metavar="CHECKPOINT", help="teacher run directory: the human")
    cl.add_argument(
        "--profile",
        type=Path,
        nargs="+",
        required=True,
        help="best.json written by tune-profile; several, tuned at different slopes or speeds, make the head follow them",
    )
    cl.add_argument("--speeds", type=float, nargs="+", default=[0.8, 1.0, 1.25, 1.5], help="walks at these speeds")
    cl.add_argument(
        "--slopes",
        type=float,
        nargs="+",
        default=None,
        help="walks on these slopes, each wearing the profile interpolated there (default: the profiles' slopes)",
    )
    cl.add_argument("--episodes", type=int, default=4, help="walks per speed")
    cl.add_argument("--out", type=Path, required=True, help="run directory to write (its checkpoint/)")
    cl.set_defaults(func=run_clone_profile)
    syn = sub.add_parser(
        "synergies", help="NMF of a teacher's excitations into mirrored muscle synergies: VAF per count, a sim config"
    )
    syn.add_argument("run_dir", type=Path, metavar="CHECKPOINT", help="teacher run directory (stage-1 walking)")
    syn.add_argument("--count", type=int, default=4, help="synergies per leg in the written config")
    syn.add_argument("--speeds", type=float, nargs="+", default=[0.8, 1.0, 1.25, 1.5], help="one episode each")
    add_duration(syn, 10.0, "episode length")
    syn.add_argument("--out", type=Path, default=Path("configs/sim/synergy.yaml"), help="sim config to write")
    syn.add_argument("--extends", default="default.yaml", help="the sim config it extends (relative to --out)")
    syn.set_defaults(func=run_synergies)


def teacher_run(run_dir: Path):
    """The checkpoint summary of a teacher run directory; a folder without one is the user's to fix (exit 2)."""
    from teacher.training.checkpoint import CheckpointSummary

    try:
        return CheckpointSummary.read(run_dir)
    except FileNotFoundError as exc:
        raise UserError(str(exc)) from exc


def run_train(args: argparse.Namespace) -> int:
    from teacher.training.train import TeacherTrainer

    ray_address = parallel.ray_address(args)
    try:
        trainer = TeacherTrainer(args.config, args.out, resume=args.resume)
    except (FileExistsError, FileNotFoundError, ValueError) as exc:
        raise UserError(str(exc)) from exc
    trainer.ray_address = ray_address
    result = trainer.train(args.steps, progress=not args.no_progress)
    if result.stopped_by is not None:
        kept = "at the end of its rollout" if result.checkpointed else "as last saved (stopped mid-rollout)"
        print(
            f"teacher: stopped by {signal.Signals(result.stopped_by).name}; checkpoint {kept} in "
            f"{result.run_dir}/checkpoint; continue with --resume",
            file=sys.stderr,
        )
        return 128 + result.stopped_by
    print(
        f"teacher: {result.total_steps} steps in total ({result.wall_s / 3600:.2f} h of training), "
        f"{result.steps_this_sitting} this sitting, stage '{result.stage}'; checkpoint in {result.run_dir}/checkpoint"
    )
    sitting_s = result.collect_s + result.update_s
    if sitting_s > 0:
        print(
            f"this sitting: {result.steps_this_sitting / sitting_s:.0f} env steps/s; "
            f"policy updates {result.update_s / sitting_s:.1%} of its rollout and update time"
        )
    return 0


def run_eval(args: argparse.Namespace) -> int:
    import shlex
    import shutil

    from teacher import evaluation
    from teacher.eval_report import targets, write_report
    from teacher.sim.reference import ReferenceGait
    from teacher.standing import quiet_standing

    with parallel.executor(args) as executor:
        teacher = teacher_run(args.run_dir)  # the workers load the policy; here only its identity and sim config
        out = args.out or args.run_dir / "eval"
        finished = out / "episodes"  # each finished episode, so that a failed grid resumes
        if args.restart:
            shutil.rmtree(finished, ignore_errors=True)
        results = evaluation.evaluate(
            teacher,
            executor,
            speeds=tuple(args.speeds or evaluation.SPEEDS),
            slopes=tuple(args.slopes or evaluation.SLOPES),
            episodes=args.episodes,
            seconds=args.duration,
            first_seed=args.first_seed,
            results_dir=finished,
        )
    meta = {
        "run_dir": str(args.run_dir),
        "total_steps": teacher.total_steps,
        "wall_h": teacher.wall_s / 3600,
        "stage": teacher.stage,
        "hash": teacher.hash,
        "episodes": args.episodes,
        "first_seed": args.first_seed,
        "seconds": args.duration,
        "command": "hipexo " + shlex.join(sys.argv[1:]),
    }
    standing = quiet_standing(teacher.sim_config)
    report = write_report(results, out, meta, ReferenceGait(teacher.sim_config.stride_length_at_1_25_m), standing)
    if args.json:
        write_json_output(args.json, evaluation.to_json(results, meta))
    for target, measured, met in targets(results, standing):
        print(f"{'met ' if met else 'MISS'}  {target}: {measured}")
    print(f"report: {report}")
    return 0


def run_tune_prior(args: argparse.Namespace) -> int:
    import csv

    import numpy as np
    from tqdm import tqdm

    from firmware_bridge.config import load_config
    from teacher.config import SimConfig
    from teacher.prior_search import GAINS, balance_yaml, search, walk

    sim = load_config(args.config, SimConfig)
    episodes = [(speed, phase) for speed in args.speeds for phase in args.phases]
    if args.evaluate_only:
        survived, tracking = walk(sim, episodes, args.steps)
        for (speed, phase), steps, score in zip(episodes, survived, tracking, strict=True):
            print(f"speed {speed:.2f} m/s  phase {phase:.2f}: {steps}/{args.steps} steps, joint tracking {score:.2f}")
        full = sum(s == args.steps for s in survived)
        seconds = np.mean(survived) / sim.control_rate_hz
        print(f"prior alone: {full}/{len(episodes)} episodes survive {args.steps} steps; mean survival {seconds:.1f} s")
        return 0
    executor = parallel.executor(args)  # a cluster that cannot be used fails here, before any file is written
    args.out.mkdir(parents=True, exist_ok=True)
    bar = tqdm(total=args.generations, desc="prior search", unit="generation", disable=args.no_progress)
    with executor, (args.out / "search.csv").open("w", newline="") as f:
        log = csv.writer(f)
        log.writerow(["generation", "best_score", "mean_score", "best_steps", *[g.name for g in GAINS]])

        def record(generation):
            best = generation.best
            log.writerow(
                [
                    generation.index,
                    f"{best.score:.4f}",
                    f"{generation.mean_score:.4f}",
                    " ".join(map(str, best.steps)),
                    *[f"{best.gains[g.name]:.4g}" for g in GAINS],
                ]
            )
            f.flush()
            bar.update(1)
            bar.set_postfix(best=f"{best.score:.3f}", mean=f"{generation.mean_score:.3f}")

        best = search(
            sim,
            episodes,
            generations=args.generations,
            population=args.population,
            steps=args.steps,
            spread=args.spread,
            seed=args.seed,
            executor=executor,
            on_generation=record,
        )
    bar.close()
    (args.out / "best.yaml").write_text(
        f"# score {best.score:.4f}; steps survived of {args.steps}: {list(best.steps)}\n"
        f"# episodes (speed m/s, phase): {episodes}\ntracking_prior:\n{balance_yaml(best.gains)}\n"
    )
    print(f"best score {best.score:.4f}; steps survived of {args.steps}: {list(best.steps)}")
    print(f"gains: {args.out / 'best.yaml'}")
    return 0


def run_tune_profile(args: argparse.Namespace) -> int:
    from teacher.profile_search import START, search

    summary = teacher_run(args.run_dir)
    start = START if args.start is None else _read_profile(args.start)[2]
    executor = parallel.executor(args)

    def report(generation, profile, score):
        print(
            f"generation {generation}: best {score.reduction_pct:+.2f} ± {score.reduction_se_pct:.2f} % "
            f"({score.pairs} pairs, falls {score.falls_off}→{score.falls_on}) {profile.as_dict()}",
            flush=True,
        )

    with executor:
        profile, score = search(
            summary.run_dir,
            summary.hash,
            executor,
            args.out,
            speed=args.speed,
            slope_deg=args.slope,
            episodes=args.episodes,
            seconds=args.duration,
            generations=args.generations,
            population=args.population,
            start=start,
            on_generation=report,
        )
    print(
        f"best profile at {args.speed:g} m/s, {args.slope:+g}°: {score.reduction_pct:+.2f} ± {score.reduction_se_pct:.2f} % → {args.out / 'best.json'}"
    )
    return 0


def run_tune_slope(args: argparse.Namespace) -> int:
    from teacher.slope_search import search

    summary = teacher_run(args.run_dir)
    start = None if args.start is None else read_slope_setting(args.start, args.slope)
    executor = parallel.executor(args)

    def report(generation, setting, score):
        print(
            f"generation {generation}: best score {score.score:.3f} (walked {score.walked:.2f}, falls {score.falls}, "
            f"speed error {score.speed_error_m_s:.3f} m/s) {setting.as_dict()}",
            flush=True,
        )

    with executor:
        setting, score = search(
            summary.run_dir,
            summary.hash,
            summary.sim_config.control_rate_hz,
            executor,
            args.out,
            slope_deg=args.slope,
            speeds=args.speeds,
            episodes=args.episodes,
            seconds=args.duration,
            generations=args.generations,
            population=args.population,
            start=start,
            on_generation=report,
        )
    print(f"best setting at {args.slope:g}°: score {score.score:.3f}, {score.falls} falls → {args.out / 'best.json'}")
    return 0


def read_slope_setting(path: Path, slope_deg: float):
    """A setting written by ``tune-slope`` (its ``best.json``), moved to ``slope_deg``: a search's start."""
    import dataclasses
    import json

    from teacher.config import SlopeSetting

    try:
        saved = json.loads(path.read_text())
        values = {f.name: float(saved[f.name]) for f in dataclasses.fields(SlopeSetting) if f.name in saved}
        values["slope_deg"] = float(saved["slope_deg"])  # terms a setting predates are zero (SlopeSetting's default)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UserError(f"{path}: not a setting written by 'hipexo teacher tune-slope' ({exc})") from exc
    return SlopeSetting(**{**values, "slope_deg": slope_deg})


def _read_profile(path: Path):
    """(speed and slope it was tuned at, profile) from a ``tune-profile`` best.json."""
    import dataclasses
    import json

    from teacher.assistance import HipProfile

    try:
        saved = json.loads(path.read_text())
        profile = HipProfile(**{f.name: float(saved[f.name]) for f in dataclasses.fields(HipProfile)})
        return float(saved["speed_m_s"]), float(saved["slope_deg"]), profile
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise UserError(f"{path}: not a profile written by 'hipexo teacher tune-profile' ({exc})") from exc


def run_clone_profile(args: argparse.Namespace) -> int:
    from firmware_bridge.config import DeviceConfig, load_config
    from teacher.training.clone import clone

    teacher_run(args.run_dir)
    device = load_config(default_config("device", "hip_exo"), DeviceConfig)
    seeds = [2000 + k for k in range(args.episodes)]
    profiles = {}
    for path in args.profile:
        speed, slope, profile = _read_profile(path)
        if (speed, slope) in profiles:
            raise UserError(
                f"{path}: a second profile tuned at {speed:g} m/s, {slope:+g}°; give one profile per speed and slope"
            )
        profiles[speed, slope] = profile
    try:
        result = clone(
            args.run_dir,
            args.out,
            profiles,
            device.command_full_scale_nm_per_kg,
            args.speeds,
            seeds,
            slopes=args.slopes,
        )
    except ValueError as exc:
        raise UserError(str(exc)) from exc
    print(
        f"cloned onto {result.samples} control steps: exo commands RMSE {result.exo_rmse:.4f}, "
        f"muscle outputs moved RMSE {result.muscle_rmse:.4f}; checkpoint in {args.out / 'checkpoint'}"
    )
    return 0


def run_synergies(args: argparse.Namespace) -> int:
    import yaml

    from teacher import synergies
    from teacher.policy import TeacherPolicy

    if args.count < 1:
        raise UserError(f"--count {args.count}: needs at least 1")
    teacher_run(args.run_dir)
    teacher = TeacherPolicy(args.run_dir)
    excitations, names = synergies.collect_excitations(teacher, args.speeds, args.duration)
    rows, groups = synergies.leg_rows(excitations, names)
    print(f"{len(excitations)} control steps, {len(rows)} leg samples of {len(groups)} muscles")
    chosen = None
    for count in range(1, len(groups) + 1):
        activations, weights = synergies.nmf(rows, count)
        vaf = synergies.variance_accounted_for(rows, activations @ weights)
        print(f"{count} synergies: VAF {vaf:.3f}")
        if count == args.count:
            chosen = (weights, vaf)
    if chosen is None:
        raise UserError(
            f"--count {args.count}: this teacher has {len(groups)} muscles per leg; pick 1 to {len(groups)}"
        )
    weights, vaf = chosen
    header = (
        f"# Mirrored muscle synergies (one set for both legs), NMF of {teacher.run_dir} at {teacher.total_steps} steps\n"
        f"# (stage {teacher.stage}, {len(excitations)} control steps): VAF {vaf:.3f} with {args.count} per leg.\n"
        f"# Written by: hipexo teacher synergies {args.run_dir} --count {args.count}\n"
    )
    body = {
        "kind": "sim",
        "extends": args.extends,
        "synergies": {"enabled": True, "weights": synergies.weights_by_group(weights, groups)},
    }
    args.out.write_text(header + yaml.safe_dump(body, sort_keys=False, default_flow_style=None))
    print(f"wrote {args.out}")
    return 0
