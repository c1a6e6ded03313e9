"""One executor for embarrassingly parallel work: eval grids, optimiser populations, distillation rollouts.

Tasks are pure functions of their arguments (seeds travel in the arguments, no global RNG), so a local process
pool and a Ray cluster give the same results. Both backends sit under one loop that keeps the ordering, the
progress bar, the retry and the saved results:

- a task whose worker process dies (``os._exit``, SIGKILL, out of memory) is run once more; a second death
  raises :class:`TaskFailed` naming the task's label. The local pool gives every worker its own pipe, so a
  death is pinned on the one task that worker ran (a ``ProcessPoolExecutor`` would break as a whole and could
  not say which task killed it).
- with ``results_dir``, each finished result is written there at once (atomically) under a key derived from
  the function and its arguments, and a rerun loads it instead of recomputing: a failed grid resumes.

Ray is imported only when an address is given (optional extra ``cluster``); firmware_bridge never sees it.
"""

from __future__ import annotations

import hashlib
import multiprocessing as mp
import os
import pickle
import signal
import socket
import traceback
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

CLUSTER_EXTRA = "pip install 'hipexo[cluster]'"
CONNECT_TIMEOUT_S = 3.0


class ClusterUnavailable(Exception):
    """``--ray`` cannot be honoured (package missing, address unreachable): a user error, nothing was started."""


class TaskFailed(RuntimeError):
    """A task raised, or its worker died twice."""


def machine_workers() -> int:
    """The cores this process may run on (affinity-aware where the OS says)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


_DIED = object()
"""Outcome of a task whose worker died (made in this process by either backend, compared by identity)."""


@dataclass(frozen=True)
class _Raised:
    traceback: str


def worker_ignores_stop_signals() -> None:
    """In a worker process: Ctrl-C and SIGTERM to the whole process group are for the parent, which stops the
    workers itself (through their pipes, or by killing them); a worker of a parent that died reads EOF."""
    for s in (signal.SIGINT, signal.SIGTERM):
        signal.signal(s, signal.SIG_IGN)


def _serve(conn: Connection) -> None:
    """A local worker: one task at a time from its own pipe until it is told to stop (None) or the pipe closes."""
    worker_ignores_stop_signals()
    while True:
        try:
            job = conn.recv()
        except EOFError:
            return
        if job is None:
            return
        fn, task = job
        try:
            conn.send((True, fn(task)))
        except Exception:
            conn.send((False, traceback.format_exc()))


@dataclass
class _Worker:
    process: mp.process.BaseProcess
    conn: Connection
    index: int = -1


class _LocalBackend:
    """Worker processes (forkserver: no inherited threads or CUDA state), started as needed and reused."""

    def __init__(self) -> None:
        self._context = mp.get_context("forkserver")
        self._idle: list[_Worker] = []
        self._busy: list[_Worker] = []

    def _spawn(self) -> _Worker:
        parent, child = self._context.Pipe()
        process = self._context.Process(target=_serve, args=(child,), daemon=True)
        process.start()
        child.close()  # the worker's death then reads as EOF on our end
        return _Worker(process, parent)

    def submit(self, index: int, fn: Callable, task: Any) -> None:
        worker = self._idle.pop() if self._idle else self._spawn()
        try:
            worker.conn.send((fn, task))
        except OSError:  # it died while idle: a fresh one takes the task
            self._stop(worker)
            worker = self._spawn()
            worker.conn.send((fn, task))
        worker.index = index
        self._busy.append(worker)

    def wait(self) -> list[tuple[int, Any]]:
        ready = wait([w.conn for w in self._busy])
        finished = []
        for worker in [w for w in self._busy if w.conn in ready]:
            self._busy.remove(worker)
            try:
                ok, value = worker.conn.recv()
            except (EOFError, OSError):
                self._stop(worker)
                finished.append((worker.index, _DIED))
                continue
            self._idle.append(worker)
            finished.append((worker.index, value if ok else _Raised(value)))
        return finished

    @staticmethod
    def _stop(worker: _Worker) -> None:
        worker.process.kill()
        worker.process.join()
        worker.conn.close()

    def cancel(self) -> None:
        for worker in self._busy:
            self._stop(worker)
        self._busy = []

    def close(self) -> None:
        self.cancel()
        for worker in self._idle:
            self._stop(worker)
        self._idle = []


def _call(fn: Callable, task: Any) -> Any:
    return fn(task)


class _RayBackend:
    """The same tasks as Ray tasks; Ray's own retries are off so that both backends retry alike (once)."""

    def __init__(self, ray) -> None:
        self._ray = ray
        self._remote = ray.remote(max_retries=0)(_call)
        self._refs: dict = {}

    def submit(self, index: int, fn: Callable, task: Any) -> None:
        self._refs[self._remote.remote(fn, task)] = index

    def wait(self) -> list[tuple[int, Any]]:
        from ray.exceptions import NodeDiedError, RayTaskError, WorkerCrashedError

        done, _ = self._ray.wait(list(self._refs), num_returns=1)
        finished = []
        for ref in done:
            index = self._refs.pop(ref)
            try:
                finished.append((index, self._ray.get(ref)))
            except (WorkerCrashedError, NodeDiedError):
                finished.append((index, _DIED))
            except RayTaskError as exc:
                finished.append((index, _Raised(str(exc))))
        return finished

    def cancel(self) -> None:
        for ref in self._refs:
            self._ray.cancel(ref, force=True)
        self._refs = {}

    def close(self) -> None:
        self.cancel()
        self._ray.shutdown()


def connect_ray(address: str):
    """``ray`` connected to the cluster at ``address`` ("auto", "host:port" or "ray://host:port").

    Fails fast with :class:`ClusterUnavailable`: ``ray.init`` on a closed port waits minutes for the GCS, so
    the address is resolved and its port tried with a plain TCP connect first.
    """
    try:
        import ray
    except ImportError as exc:
        raise ClusterUnavailable(f"--ray needs the ray package; install the cluster extra: {CLUSTER_EXTRA}") from exc
    target = address
    if address == "auto":
        from ray._private.services import canonicalize_bootstrap_address

        try:
            target = canonicalize_bootstrap_address(address)
        except (ConnectionError, ValueError) as exc:
            raise ClusterUnavailable(f"--ray auto: no running Ray cluster found on this machine ({exc})") from exc
    host, _, port = target.removeprefix("ray://").rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except (OSError, ValueError) as exc:
        raise ClusterUnavailable(
            f"--ray {address}: no Ray cluster reachable at {target} ({exc}); start one with 'ray start --head'"
        ) from exc
    ray.init(address=address, ignore_reinit_error=True, logging_level="WARNING")
    return ray


def result_key(fn: Callable, task: Any) -> str:
    """Name of a task's saved result: a digest of the function's name and its pickled arguments."""
    return hashlib.sha256(pickle.dumps((fn.__module__, fn.__qualname__, task))).hexdigest()[:32]


def _save(path: Path, value: Any) -> None:
    staging = path.with_suffix(f".tmp{os.getpid()}")
    staging.write_bytes(pickle.dumps(value))
    os.replace(staging, path)  # a killed run never leaves half a result


class Executor:
    """Ordered ``map`` over a local process pool or a Ray cluster; use it as a context manager."""

    def __init__(self, backend: _LocalBackend | _RayBackend, workers: int, where: str) -> None:
        self._backend = backend
        self.workers = workers
        self.where = where
        """"local" or the Ray address, for logs and reports."""

    def map(
        self,
        fn: Callable[[Any], Any],
        tasks: Iterable[Any],
        *,
        labels: Sequence[str] | None = None,
        desc: str = "tasks",
        progress: bool = True,
        results_dir: Path | None = None,
    ) -> list:
        """``[fn(t) for t in tasks]``, computed in parallel; ``fn`` must be importable by the workers."""
        from tqdm import tqdm

        tasks = list(tasks)
        labels = list(labels) if labels is not None else [f"task {i}" for i in range(len(tasks))]
        paths = [Path(results_dir) / f"{result_key(fn, t)}.pkl" for t in tasks] if results_dir else []
        if results_dir:
            Path(results_dir).mkdir(parents=True, exist_ok=True)
        results = {i: pickle.loads(p.read_bytes()) for i, p in enumerate(paths) if p.is_file()}
        pending = deque(i for i in range(len(tasks)) if i not in results)
        with tqdm(total=len(tasks), initial=len(results), desc=desc, disable=not progress) as bar:
            try:
                for index, value in self._finished(fn, tasks, labels, pending, bool(paths)):
                    results[index] = value
                    if paths:
                        _save(paths[index], value)
                    bar.update()
            except BaseException:
                self._backend.cancel()  # nothing of this map keeps running, the executor stays usable
                raise
        return [results[i] for i in range(len(tasks))]

    def _finished(
        self, fn: Callable, tasks: list, labels: list[str], pending: deque[int], resumable: bool
    ) -> Iterator[tuple[int, Any]]:
        """(index, result) as tasks finish, keeping ``workers`` in flight; a dead worker's task runs once more."""
        deaths: Counter[int] = Counter()
        running = 0
        while pending or running:
            while pending and running < self.workers:
                index = pending.popleft()
                self._backend.submit(index, fn, tasks[index])
                running += 1
            for index, outcome in self._backend.wait():
                running -= 1
                if isinstance(outcome, _Raised):
                    raise TaskFailed(f"{labels[index]} raised:\n{outcome.traceback}")
                if outcome is _DIED:
                    deaths[index] += 1
                    if deaths[index] > 1:
                        raise TaskFailed(
                            f"{labels[index]}: its worker died twice (crashed or killed); "
                            + ("the finished tasks are kept, rerun to resume" if resumable else "no result")
                        )
                    pending.appendleft(index)
                    continue
                yield index, outcome

    def close(self) -> None:
        self._backend.close()

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def make_executor(ray_address: str | None = None, workers: int | None = None) -> Executor:
    """A local pool of ``workers`` processes (default: this machine's cores), or Ray at ``ray_address``
    (``workers`` then caps the tasks in flight; default: the cluster's CPUs)."""
    if ray_address is None:
        return Executor(_LocalBackend(), workers or machine_workers(), "local")
    ray = connect_ray(ray_address)
    return Executor(_RayBackend(ray), workers or int(ray.cluster_resources().get("CPU", 1)), ray_address)
