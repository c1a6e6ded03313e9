"""The resumable CMA-ES loop shared by the profile and slope searches: it maximises, keeps its best, and an
interrupted search resumes to exactly where an uninterrupted one gets."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from teacher import cma_search

TARGET = np.array([0.3, 0.7, 0.5])


@dataclass(frozen=True)
class Result:
    score: float


def decode(unit: np.ndarray) -> tuple[float, ...]:
    return tuple(round(float(u), 12) for u in unit)


def evaluate(candidates: list[tuple[float, ...]], desc: str) -> list[Result]:
    return [Result(-float(np.sum((np.array(c) - TARGET) ** 2))) for c in candidates]


def describe(candidate: tuple[float, ...], result: Result) -> dict:
    return {"candidate": list(candidate), "score": result.score}


def run(out, generations: int):
    return cma_search.search(
        out, np.full(3, 0.5), decode, evaluate, describe, generations=generations, population=6, sigma=0.2, seed=3
    )


def test_the_search_climbs_toward_the_optimum_and_keeps_the_best(tmp_path):
    start = evaluate([decode(np.full(3, 0.5))], "")[0].score
    best, result = run(tmp_path, 25)
    assert result.score > start and result.score > -1e-3
    np.testing.assert_allclose(best, TARGET, atol=0.03)
    history = [json.loads(line) for line in (tmp_path / "history.jsonl").read_text().splitlines()]
    assert len(history) == 25 * 6 and max(h["score"] for h in history) == result.score
    assert json.loads((tmp_path / "best.json").read_text())["score"] == result.score


def test_an_interrupted_search_resumes_where_an_uninterrupted_one_gets(tmp_path):
    run(tmp_path / "split", 4)
    resumed = run(tmp_path / "split", 9)
    whole = run(tmp_path / "whole", 9)
    assert resumed[0] == whole[0]
    assert resumed[1] == whole[1]
    assert (tmp_path / "split" / "history.jsonl").read_text() == (tmp_path / "whole" / "history.jsonl").read_text()
