"""Muscle synergies: NMF extraction, the mirrored synergy action map, the walker's synergy action space
and ``hipexo teacher synergies`` on a real (smoke-sized) teacher."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge.config import load_config
from firmware_bridge.config.paths import CONFIG_DIR, default_config
from firmware_bridge.config.schema import ConfigError, build
from teacher.config import SimConfig, SynergyConfig
from teacher.env.walker import HipExoWalkerEnv
from teacher.synergies import leg_rows, nmf, synergy_matrix, variance_accounted_for

MUSCLES = ("hamstrings_r", "vasti_r", "soleus_r", "hamstrings_l", "vasti_l", "soleus_l")
WEIGHTS = {"hamstrings": [1.0, 0.0], "vasti": [0.2, 1.0], "soleus": [0.0, 0.5]}


def test_nmf_recovers_a_known_number_of_synergies():
    """Three synergies on disjoint muscle sets: three explain the data, two cannot."""
    rng = np.random.default_rng(1)
    truth = np.zeros((3, 11))
    for i, muscles in enumerate((slice(0, 4), slice(4, 8), slice(8, 11))):
        truth[i, muscles] = rng.uniform(0.3, 1.0, truth[i, muscles].size)
    data = rng.exponential(1.0, (400, 3)) @ truth
    vaf = {k: variance_accounted_for(data, np.dot(*nmf(data, k, iterations=1500))) for k in (2, 3)}
    assert vaf[3] > 0.999
    assert vaf[2] < 0.95


def test_nmf_synergies_are_non_negative_and_peak_at_one():
    data = np.random.default_rng(2).uniform(0.0, 1.0, (200, 11))
    activations, synergies = nmf(data, 4)
    assert np.all(activations >= 0.0) and np.all(synergies >= 0.0)
    np.testing.assert_allclose(synergies.max(axis=1), 1.0, atol=1e-9)
    with pytest.raises(ValueError, match="non-negative"):
        nmf(data - 0.5, 2)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(-1.0, 1.0), min_size=4, max_size=4))
def test_synergy_map_is_mirrored_between_legs(activations):
    matrix = synergy_matrix(SynergyConfig(True, WEIGHTS), MUSCLES)
    right_only = matrix @ np.r_[activations[:2], 0.0, 0.0]
    left_only = matrix @ np.r_[0.0, 0.0, activations[:2]]
    np.testing.assert_allclose(right_only[:3], left_only[3:])
    np.testing.assert_allclose(right_only[3:], 0.0)
    drive = matrix @ np.array(activations)
    np.testing.assert_allclose(drive[:3], np.array(list(WEIGHTS.values())) @ activations[:2])


def test_synergy_map_names_missing_and_unknown_groups():
    with pytest.raises(ValueError, match=r"missing \['soleus'\], unknown \['tibant'\]"):
        synergy_matrix(SynergyConfig(True, {"hamstrings": [1.0], "vasti": [1.0], "tibant": [1.0]}), MUSCLES)


def test_leg_rows_puts_both_legs_in_one_muscle_order():
    excitations = np.array([[0.1, 0.2, 0.3, 0.4, 0.5, 0.6]])
    rows, groups = leg_rows(excitations, MUSCLES)
    assert groups == ["hamstrings", "soleus", "vasti"]
    np.testing.assert_allclose(rows, [[0.1, 0.3, 0.2], [0.4, 0.6, 0.5]])


def test_synergy_config_errors_name_the_problem():
    with pytest.raises(ConfigError) as error:
        build(SynergyConfig, {"enabled": True, "weights": {"vasti": [1.0, 0.0], "soleus": [-0.5]}})
    text = str(error.value)
    assert "same number of synergies" in text
    assert "weights.soleus: weights must be non-negative" in text
    with pytest.raises(ConfigError, match="empty, but synergies are enabled"):
        build(SynergyConfig, {"enabled": True})


def test_walker_acts_through_synergies():
    """One right-leg synergy moves exactly its muscles on the right leg, by its weights × residual scale."""
    sim = load_config(CONFIG_DIR / "sim" / "synergy.yaml", SimConfig)
    env = HipExoWalkerEnv(sim)
    k = sim.synergies.count()
    assert env.action_space.shape == (2 * k + 2,)
    weights = synergy_matrix(sim.synergies, env.backend.muscle_names)
    excitations = {}
    for label, value in (("zero", 0.0), ("pushed", 0.1)):
        env.reset(seed=0, options={"speed_m_s": 1.25, "phase": 0.0})
        action = np.zeros(env.action_space.shape, dtype=np.float32)
        action[0] = value
        excitations[label] = env.step(action)[4]["excitations"]
    expected = sim.tracking_prior.residual_scale * 0.1 * weights[:, 0]
    free = excitations["zero"] + expected < 1.0  # the prior's excitations are ≥ 0: only the top clip can bind
    np.testing.assert_allclose((excitations["pushed"] - excitations["zero"])[free], expected[free], atol=1e-9)
    assert np.count_nonzero(expected[free] > 0.01) >= 2


def test_running_env_refuses_a_synergy_change():
    sim = load_config(default_config("sim"), SimConfig)
    env = HipExoWalkerEnv(sim)
    with pytest.raises(ValueError, match="synergies"):
        env.set_sim_config(dataclasses.replace(sim, synergies=SynergyConfig(True, {"x": [1.0]})))


def test_synergies_command_writes_a_config_the_walker_loads(smoke_run, tmp_path, capsys):
    from tools.cli import main

    out = tmp_path / "synergy.yaml"
    extends = str(CONFIG_DIR / "sim" / "default.yaml")
    args = ["teacher", "synergies", str(smoke_run), "--count", "3", "--speeds", "1.0", "--duration", "1"]
    assert main([*args, "--out", str(out), "--extends", extends]) == 0
    printed = capsys.readouterr().out
    assert "3 synergies: VAF" in printed
    written = yaml.safe_load(out.read_text())
    assert written["extends"] == extends
    sim = load_config(out, SimConfig)
    assert sim.synergies.enabled and sim.synergies.count() == 3
    assert HipExoWalkerEnv(sim).action_space.shape == (8,)


def test_synergies_command_refuses_a_count_the_teacher_does_not_have(smoke_run, tmp_path, capsys):
    from tools.cli import main

    args = ["teacher", "synergies", str(smoke_run), "--speeds", "1.0", "--duration", "0.2"]
    assert main([*args, "--count", "99", "--out", str(tmp_path / "s.yaml")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("hipexo: error: --count 99: this teacher has ") and "pick 1 to" in err[0]
    assert not (tmp_path / "s.yaml").exists()
