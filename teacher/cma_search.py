"""A resumable CMA-ES loop (the ``cma`` package) in the unit cube, shared by the searches over a hip profile
(:mod:`teacher.profile_search`) and over the prior's slope settings (:mod:`teacher.slope_search`).

The optimiser's state and the best candidate are pickled after every generation (written atomically) and
every candidate is appended to ``history.jsonl``, so an interrupted search resumes where it stopped.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, TypeVar

import numpy as np


class Scored(Protocol):
    score: float


C = TypeVar("C")
S = TypeVar("S", bound=Scored)


def search(
    out: Path,
    start: np.ndarray,
    decode: Callable[[np.ndarray], C],
    evaluate: Callable[[list[C], str], list[S]],
    describe: Callable[[C, S], dict],
    *,
    generations: int,
    population: int,
    sigma: float,
    seed: int = 0,
    on_generation: Callable[[int, C, S], None] | None = None,
) -> tuple[C, S]:
    """Maximise ``evaluate``'s scores from ``start`` (a point in [0, 1]^n, clipped into it); returns the best
    candidate seen and its result. ``decode`` turns a point into a candidate; ``evaluate`` scores one
    generation's candidates (``desc`` names it); ``describe`` gives the JSON record of a candidate and its
    result (history.jsonl, and best.json for the best)."""
    import cma

    start = np.clip(np.asarray(start, dtype=float), 0.0, 1.0)  # a start from elsewhere may lie outside the bounds
    out.mkdir(parents=True, exist_ok=True)
    state_path, history = out / "cma.pkl", out / "history.jsonl"
    if state_path.is_file():
        es, best = pickle.loads(state_path.read_bytes())
    else:
        es = cma.CMAEvolutionStrategy(
            start, sigma, {"bounds": [0.0, 1.0], "popsize": population, "seed": seed + 1, "verbose": -9}
        )
        best = (start, evaluate([decode(start)], "start")[0])
    while es.countiter < generations:
        units = [np.asarray(u) for u in es.ask()]
        candidates = [decode(u) for u in units]
        results = evaluate(candidates, f"generation {es.countiter}")
        es.tell(units, [-r.score for r in results])
        leader = int(np.argmax([r.score for r in results]))
        if results[leader].score > best[1].score:
            best = (units[leader], results[leader])
        with history.open("a") as f:
            for c, r in zip(candidates, results, strict=True):
                f.write(json.dumps({"generation": es.countiter, **describe(c, r)}) + "\n")
        _write_atomically(state_path, pickle.dumps((es, best)))
        _write_atomically(out / "best.json", json.dumps(describe(decode(best[0]), best[1]), indent=1).encode())
        if on_generation:
            on_generation(es.countiter, decode(best[0]), best[1])
    return decode(best[0]), best[1]


def _write_atomically(path: Path, data: bytes) -> None:
    staging = path.with_name(path.name + ".tmp")
    staging.write_bytes(data)
    staging.replace(path)
