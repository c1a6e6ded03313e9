"""The prior's gain search: bounded gains, and a search that returns gains a sim config accepts."""

from __future__ import annotations

import yaml
from hypothesis import given
from hypothesis import strategies as st

from firmware_bridge.config import load_config
from teacher.config import SimConfig
from teacher.prior_search import GAINS, gains_of, with_gains


@given(unit=st.floats(0.0, 1.0), index=st.integers(0, len(GAINS) - 1))
def test_gain_mapping_stays_in_bounds_and_inverts(unit, index):
    gain = GAINS[index]
    value = gain.value(unit)
    assert gain.low - 1e-9 <= value <= gain.high + 1e-9
    assert abs(gain.unit(value) - unit) < 1e-9


def test_gains_round_trip_through_the_prior_config():
    prior = load_config("configs/sim/default.yaml", SimConfig).tracking_prior
    gains = {name: value * 1.5 + 0.1 for name, value in gains_of(prior).items()}
    assert gains_of(with_gains(prior, gains)) == gains


def test_tune_prior_writes_a_log_and_gains_a_sim_config_accepts(tmp_path, capsys):
    from tools.cli import main

    out = tmp_path / "search"
    args = ["teacher", "tune-prior", "--generations", "2", "--population", "3", "--steps", "15"]
    assert main([*args, "--speeds", "1.25", "--phases", "0", "--out", str(out), "--no-progress"]) == 0
    rows = (out / "search.csv").read_text().splitlines()
    assert len(rows) == 3 and rows[0].startswith("generation,best_score")
    best = yaml.safe_load((out / "best.yaml").read_text())
    base = yaml.safe_load(open("configs/sim/default.yaml"))
    merged = tmp_path / "sim.yaml"
    merged.write_text(yaml.safe_dump({**base, "tracking_prior": {**base["tracking_prior"], **best["tracking_prior"]}}))
    tuned = load_config(merged, SimConfig)
    scores = [float(r.split(",")[1]) for r in rows[1:]]
    assert tuned.tracking_prior.balance.enabled and max(scores) <= 1.0 + 0.1 + 1e-9
    assert "best score" in capsys.readouterr().out


def test_evaluate_only_walks_the_configured_gains(capsys):
    from tools.cli import main

    args = ["teacher", "tune-prior", "--evaluate-only", "--steps", "25", "--speeds", "1.0", "--phases", "0"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "speed 1.00 m/s  phase 0.00: 25/25 steps" in out and "1/1 episodes survive 25 steps" in out
