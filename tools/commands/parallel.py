"""``--ray ADDRESS`` and ``--workers N``, spelt the same on every command that runs parallel work."""

from __future__ import annotations

import argparse

from teacher.executor import Executor, machine_workers


def add_options(parser: argparse.ArgumentParser, default: object = None, workers: bool = True) -> None:
    """``default=argparse.SUPPRESS`` for a sub-command that repeats its parent's options."""
    parser.add_argument(
        "--ray",
        metavar="ADDRESS",
        default=default,
        help="run on the Ray cluster at ADDRESS ('auto' or HEAD:6379; needs the cluster extra, docs/cluster.md); "
        "default: this machine",
    )
    if not workers:
        return
    parser.add_argument(
        "--workers",
        type=int,
        metavar="N",
        default=default,
        help=f"tasks in parallel (default: this machine's {machine_workers()} cores, or the Ray cluster's CPUs)",
    )


def ray_address(args: argparse.Namespace) -> str | None:
    """``--ray``, once its cluster answers; a cluster that cannot be used is a user error (exit 2)."""
    from teacher.executor import ClusterUnavailable, connect_ray
    from tools.errors import UserError

    if args.ray:
        try:
            connect_ray(args.ray)
        except ClusterUnavailable as exc:
            raise UserError(str(exc)) from exc
    return args.ray


def executor(args: argparse.Namespace) -> Executor:
    """The executor the options ask for; a cluster that cannot be used is a user error (exit 2, nothing started)."""
    from teacher.executor import ClusterUnavailable, make_executor
    from tools.errors import UserError

    if args.workers is not None and args.workers < 1:
        raise UserError(f"--workers {args.workers}: needs at least 1")
    try:
        return make_executor(args.ray, args.workers)
    except ClusterUnavailable as exc:
        raise UserError(str(exc)) from exc
