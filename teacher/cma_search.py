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


S = TypeVar("S", bound=Scored)


def search(
    out: Path,
    start: np.ndarray,
    evaluate: Callable[[list[np.ndarray], str], list[S]],
    describe: Callable[[np.ndarray, S], dict],
    *,
    generations: int,
    population: int,
    sigma: float,
    seed: int = 0,
    on_generation: Callable[[int, np.ndarray, S], None] | None = None,
) -> tuple[np.ndarray, S]:
    """Maximise ``evaluate``'s scores from ``start`` (a point in [0, 1]^n); returns the best point seen and its
    result. ``evaluate`` scores a list of points (one generation, ``desc`` names it); ``describe`` gives the JSON
    record of a point and its result (history.jsonl, and best.json for the best)."""
    import cma

    start = np.clip(np.asarray(start, dtype=float), 0.0, 1.0)  # a start from elsewhere may lie outside the bounds
    out.mkdir(parents=True, exist_ok=True)
    state_path, history = out / "cma.pkl", out / "history.jsonl"
    if state_path.is_file():
        es, best = pickle.loads(state_path.read_bytes())
    else:
        es = cma.CMAEvolutionStrategy(
            start,
            sigma,
            {"bounds": [0.0, 1.0], "popsize": population, "seed": seed + 1, "verbose": -9},
        )
        best = (start, evaluate([start], "start")[0])
    while es.countiter < generations:
        units = [np.asarray(u) for u in es.ask()]
        results = evaluate(units, f"generation {es.countiter}")
        es.tell(units, [-r.score for r in results])
        leader = int(np.argmax([r.score for r in results]))
        if results[leader].score > best[1].score:
            best = (units[leader], results[leader])
        with history.open("a") as f:
            for u, r in zip(units, results, strict=True):
                f.write(json.dumps({"generation": es.countiter, **describe(u, r)}) + "\n")
        staging = state_path.with_suffix(".tmp")
        staging.write_bytes(pickle.dumps((es, best)))
        staging.replace(state_path)
        staging = out / "best.json.tmp"
        staging.write_text(json.dumps(describe(*best), indent=1))
        staging.replace(out / "best.json")
        if on_generation:
            on_generation(es.countiter, *best)
    return best
