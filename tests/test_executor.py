"""The one executor: local pool and a real Ray head give the same figures; dead workers are retried once, then
named; finished results are kept and not recomputed; a bad ``--ray`` is a one-line user error (exit 2)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from firmware_bridge.config.paths import CONFIG_DIR, REPO_ROOT
from teacher.executor import TaskFailed, make_executor
from tools.cli import main

SHIPPED_TEACHER = REPO_ROOT / "models" / "teacher" / "default"
GRID = ["--speeds", "1.25", "--slopes", "0", "--episodes", "2", "--duration", "1"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ray_head():
    """A real one-node Ray cluster on 127.0.0.1 (2 CPUs), in its own process group, removed afterwards."""
    try:
        from ray import cloudpickle
    except ImportError:
        pytest.skip("ray is not installed (the cluster extra: pip install 'hipexo[cluster]')")
    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the Ray workers cannot import tests/
    port = _free_port()
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # short: Ray's socket paths must fit in 107 bytes
    command = [str(Path(sys.executable).parent / "ray"), "start", "--head", "--block", f"--port={port}"]
    command += ["--node-ip-address=127.0.0.1", "--num-cpus=2", "--include-dashboard=false", f"--temp-dir={temp}"]
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    head = subprocess.Popen(command, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    started = time.monotonic()
    try:
        while True:
            assert head.poll() is None, head.stderr.read().decode()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() - started < 60, "the Ray head did not open its port within 60 s"
                time.sleep(0.2)
        print(f"Ray head up in {time.monotonic() - started:.1f} s")
        yield f"127.0.0.1:{port}"
    finally:  # the head's process group: the cluster it started, nothing else
        import ray

        # A driver still connected when its cluster goes exits ~60 s later (Ray's GCS-lost timeout): that
        # would take pytest with it in the middle of another test file.
        ray.shutdown()
        os.killpg(head.pid, signal.SIGINT)  # Ctrl-C: `ray start --block` stops its cluster (SIGTERM leaves it up)
        with contextlib.suppress(subprocess.TimeoutExpired):
            head.wait(timeout=30)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(head.pid, signal.SIGKILL)  # any part of it that ignored SIGTERM (gcs_server does)
        head.wait()
        shutil.rmtree(temp, ignore_errors=True)


# --- tasks (module level: the workers import or unpickle them) -------------------------------------------
def square_counting_calls(task: tuple[str, int]) -> int:
    """x², leaving one line per call in ``folder/calls_<x>``; x = 3 kills its worker until ``folder/fixed``."""
    folder, x = Path(task[0]), task[1]
    with open(folder / f"calls_{x}", "a") as f:
        f.write("call\n")
    if x == 3 and not (folder / "fixed").exists():
        os._exit(1)
    return x * x


def dies_on_first_try(task: tuple[str, int]) -> int:
    folder, x = Path(task[0]), task[1]
    marker = folder / f"tried_{x}"
    if x == 1 and not marker.exists():
        marker.touch()
        os.kill(os.getpid(), signal.SIGKILL)
    return 10 * x


def always_dies(x: int) -> int:
    if x == 2:
        os._exit(3)
    return x


def _calls(folder: Path) -> dict[int, int]:
    return {int(p.name.split("_")[1]): len(p.read_text().splitlines()) for p in folder.glob("calls_*")}


# --- tests -----------------------------------------------------------------------------------------------
def test_local_pool_and_ray_give_the_same_eval_figures_and_a_rerun_resumes(ray_head, tmp_path):
    figures, seconds = {}, {}
    for where in ("local", "ray"):
        extra = ["--workers", "2"] if where == "local" else ["--ray", ray_head]
        start = time.monotonic()
        argv = ["teacher", "eval", str(SHIPPED_TEACHER), *GRID, *extra]
        assert main([*argv, "--out", str(tmp_path / where), "--json", str(tmp_path / f"{where}.json")]) == 0
        seconds[where] = time.monotonic() - start
        figures[where] = json.loads((tmp_path / f"{where}.json").read_text())["conditions"]
    print(f"eval grid (2 conditions × 2 episodes × 1 s): local {seconds['local']:.1f} s, Ray {seconds['ray']:.1f} s")
    assert figures["local"] == figures["ray"]  # exactly, every figure and mean cycle
    assert [c["exo"] for c in figures["local"]] == [False, True] and figures["local"][0]["episodes"] == 2
    # Every episode was kept; a rerun computes only the one that is missing.
    kept = sorted((tmp_path / "local" / "episodes").glob("*.pkl"))
    assert len(kept) == 4
    kept[0].unlink()
    stamps = {p: p.stat().st_mtime_ns for p in kept[1:]}
    rerun = tmp_path / "rerun.json"
    assert (
        main(["teacher", "eval", str(SHIPPED_TEACHER), *GRID, "--out", str(tmp_path / "local"), "--json", str(rerun)])
        == 0
    )
    assert kept[0].is_file() and all(p.stat().st_mtime_ns == t for p, t in stamps.items())
    assert json.loads(rerun.read_text())["conditions"] == figures["local"]


@pytest.mark.parametrize("where", ["local", "ray"])
def test_a_worker_that_dies_once_is_retried_and_its_result_is_right(where, request, tmp_path):
    address = request.getfixturevalue("ray_head") if where == "ray" else None
    with make_executor(address, workers=2) as executor:
        assert executor.map(dies_on_first_try, [(str(tmp_path), x) for x in range(4)], progress=False) == [
            0,
            10,
            20,
            30,
        ]
    assert (tmp_path / "tried_1").exists()  # it did die once


@pytest.mark.parametrize("where", ["local", "ray"])
def test_a_task_that_always_kills_its_worker_fails_naming_its_label(where, request):
    address = request.getfixturevalue("ray_head") if where == "ray" else None
    labels = [f"condition {s} m/s, 0°, exo on" for s in (0.8, 1.0, 1.25, 1.5)]
    with make_executor(address, workers=2) as executor:
        with pytest.raises(TaskFailed, match=r"^condition 1\.25 m/s, 0°, exo on: its worker died twice"):
            executor.map(always_dies, range(4), labels=labels, progress=False)
        assert executor.map(always_dies, [0, 1], progress=False) == [0, 1]  # still usable afterwards


def test_finished_results_are_kept_and_a_rerun_computes_only_the_rest(tmp_path):
    results = tmp_path / "results"
    tasks = [(str(tmp_path), x) for x in range(5)]
    with make_executor(workers=1) as executor:  # one worker: the tasks run in order, 4 never starts
        with pytest.raises(TaskFailed, match="task 3: its worker died twice.*rerun to resume"):
            executor.map(square_counting_calls, tasks, results_dir=results, progress=False)
    assert _calls(tmp_path) == {0: 1, 1: 1, 2: 1, 3: 2}  # 3 tried and retried once
    (tmp_path / "fixed").touch()
    with make_executor(workers=2) as executor:
        assert executor.map(square_counting_calls, tasks, results_dir=results, progress=False) == [0, 1, 4, 9, 16]
        assert _calls(tmp_path) == {0: 1, 1: 1, 2: 1, 3: 3, 4: 1}  # only the unfinished ones ran
        assert sorted(p.suffix for p in results.iterdir()) == [".pkl"] * 5  # no staging file left behind
        assert executor.map(square_counting_calls, tasks, results_dir=results, progress=False) == [0, 1, 4, 9, 16]
    assert _calls(tmp_path) == {0: 1, 1: 1, 2: 1, 3: 3, 4: 1}  # all kept: nothing ran at all


COMMANDS = {
    "eval": ["teacher", "eval", str(SHIPPED_TEACHER)],
    "tune-prior": ["teacher", "tune-prior", "--generations", "1"],
    "distill": ["distill", "collect"],
    "train": ["teacher", "train", "--config", str(CONFIG_DIR / "teacher" / "smoke.yaml"), "--out", "run"],
}


def _hipexo(argv: list[str], prelude: str = "", cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess:
    code = f"import sys\n{prelude}\nfrom tools.cli import main\nsys.exit(main({argv!r}))"
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("command", list(COMMANDS))
def test_ray_at_a_closed_port_is_one_line_and_exit_2_within_seconds(command, tmp_path):
    start = time.monotonic()
    result = _hipexo([*COMMANDS[command], "--ray", "127.0.0.1:1"], cwd=tmp_path)
    assert time.monotonic() - start < 20
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("hipexo: error: --ray 127.0.0.1:1: no Ray cluster reachable")
    assert list(tmp_path.iterdir()) == []  # nothing started, nothing written


@pytest.mark.parametrize("command", list(COMMANDS))
def test_ray_without_the_ray_package_names_the_cluster_extra(command, tmp_path):
    result = _hipexo([*COMMANDS[command], "--ray", "auto"], prelude="sys.modules['ray'] = None", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.endswith("install the cluster extra: pip install 'hipexo[cluster]'")
    assert list(tmp_path.iterdir()) == []


def test_ppo_steps_through_ray_actors_match_subprocess_envs(ray_head, tmp_path, monkeypatch):
    from vec_env_check import assert_steps_like_subprocess_envs, short_episodes

    from teacher.training.grouped_vec_env import GroupedVecEnv, _RayWorkers
    from teacher.training.train import TeacherTrainer, make_env

    sim = short_episodes()
    ray_envs = GroupedVecEnv([make_env(sim) for _ in range(4)], 4, ray_head)
    try:
        assert len(ray_envs._slices) == 2  # 4 envs on the head's 2 CPUs: 2 actors of 2 envs each
        assert_steps_like_subprocess_envs(ray_envs, sim)
        assert ray_envs.env_method("set_sim_config", sim, indices=[3]) == [None]
        assert ray_envs.get_attr("render_mode") == [None] * 4
    finally:
        ray_envs.close()
    # A short PPO sitting of the smoke config with its envs as Ray actors, through the trainer.
    steps = []
    gather = _RayWorkers.gather
    monkeypatch.setattr(_RayWorkers, "gather", lambda self, handles: steps.append(1) or gather(self, handles))
    trainer = TeacherTrainer(CONFIG_DIR / "teacher" / "smoke.yaml", tmp_path / "run")
    trainer.ray_address = ray_head
    result = trainer.train(1024, progress=False)  # one rollout of 512 steps × 2 envs, one update
    assert result.total_steps == 1024 and (tmp_path / "run" / "checkpoint").is_dir()
    assert len(steps) >= 512  # every step went through the actors (and the one at which the sitting stops)
