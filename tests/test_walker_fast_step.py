"""The fast env step against the step it replaced (commit 336c434: SciPy BVLS for the prior's muscle allocation,
one ``mj_contactForce`` call per contact, body and muscle state computed twice per step, numpy muscle curves).

``data/walker_trace_10s.npz`` is a 10 s episode recorded with that step: the 901k-step teacher's actions (stage
assist, exo on, exo commands jittered so the shaping chain moves), seed 7, 1.25 m/s level, phase 0. Replaying
its actions open loop must give the same episode. The walker is chaotic: the allocation's last-bit
differences (≤ 2e-13) grow to 3e-8 at 2 s, 1e-7 at 4 s, 3e-6 at 6 s, 1e-4 at 8 s and O(1) after ~9.5 s (measured,
largest observation difference). So the trajectory is pinned to 1e-5 over the first 3 s, and every changed part
is pinned at every step of the whole 10 s to the computation it replaced, on the state the fast step visited.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import mujoco
import numpy as np
import pytest
from scipy.optimize import lsq_linear

from firmware_bridge.config.schema import build
from teacher.config import SimConfig
from teacher.env import HipExoWalkerEnv
from teacher.sim.reference import ReferenceGait

TRACE = Path(__file__).parent / "data" / "walker_trace_10s.npz"
SIM = TRACE.with_name("walker_trace_10s_sim.json")
EXACT_STEPS = 150
"""3 s at 50 Hz: the replay agrees to 1e-5 here (measured 3e-8; 1e-5 is reached only after ~6.5 s)."""


@pytest.fixture(scope="module")
def replay():
    """The recorded actions replayed through the fast step, recording what each changed part computed."""
    trace = np.load(TRACE)
    # the sim config it was recorded under: the 901k-step teacher's stage assist
    sim = build(SimConfig, json.loads(SIM.read_text()), source=str(SIM))
    # recorded before seeds jittered the start and before the probe's masses were calibrated: both as they were
    env = HipExoWalkerEnv(
        dataclasses.replace(sim, exo_enabled=True, start_phase_jitter=0.0, start_velocity_noise_rad_s=0.0)
    )
    f_max = env.backend.muscle_parameters()[0]
    env.metabolic = dataclasses.replace(
        env.metabolic, muscle_mass_kg=1059.7 * f_max / 0.25e6 * env.backend._optimal_length
    )
    allocations = []
    solve = env._allocator.solve

    def recording_solve(torque_map, torques):
        solution = solve(torque_map, torques)
        allocations.append((torque_map.copy(), torques.copy(), solution))
        return solution

    env._allocator.solve = recording_solve
    obs, _ = env.reset(seed=7, options={"speed_m_s": 1.25, "slope_deg": 0.0, "phase": 0.0})
    run = {"observations": [obs], "rewards": [], "exo_torque_nm": [], "metabolic_w_per_kg": [], "checks": []}
    for action in trace["actions"]:
        obs, reward, terminated, truncated, info = env.step(action)
        run["observations"].append(obs)
        run["rewards"].append(reward)
        run["exo_torque_nm"].append(info["exo_torque_nm"])
        run["metabolic_w_per_kg"].append(info["metabolic_w_per_kg"])
        run["checks"].append(_step_checks(env))
        if terminated:
            break
    run = {k: np.array(v) if k != "checks" else v for k, v in run.items()}
    return trace, run, allocations, env


def _step_checks(env: HipExoWalkerEnv) -> dict:
    """Each fast part against the slow computation it replaced, at the state just reached."""
    backend, data, model = env.backend, env.backend.data, env.backend.model
    contact = np.zeros(4)
    wrench = np.zeros(6)
    for i in range(data.ncon):
        c = data.contact[i]
        segments = [s for s in backend._segment_of_geom[[c.geom1, c.geom2]] if s >= 0]
        if segments:
            mujoco.mj_contactForce(model, data, i, wrench)
            contact[segments] += wrench[0]
    reference = ReferenceGait(env.config.stride_length_at_1_25_m)
    stride = reference.stride_time_s(env.speed)
    offsets = env._reference_offsets_s
    slow_reference = [reference.sample(env.speed, env.phase + offset / stride) for offset in offsets]
    return {
        "contact": (backend.body_state().contact_forces, contact),
        "body": (env._body, backend.body_state()),
        "muscles": (env._muscles, backend.muscle_state()),
        "reference_angles": (env._reference[0], np.array([r.angles_rad.reshape(-1) for r in slow_reference])),
        "reference_velocities": (
            env._reference[1],
            np.array([r.velocities_rad_s.reshape(-1) for r in slow_reference]),
        ),
    }


def test_replay_matches_the_recorded_episode(replay):
    trace, run, _, _ = replay
    assert len(run["rewards"]) == len(trace["rewards"]) == 500  # neither walker fell in 10 s
    np.testing.assert_allclose(
        run["observations"][: EXACT_STEPS + 1], trace["observations"][: EXACT_STEPS + 1], atol=1e-5
    )
    np.testing.assert_allclose(run["rewards"][:EXACT_STEPS], trace["rewards"][:EXACT_STEPS], atol=1e-6)
    # the exo torque is the device shaping chain driven by the recorded commands: identical all 10 s
    np.testing.assert_array_equal(run["exo_torque_nm"], trace["exo_torque_nm"])
    # over the chaotic rest, the episode's figures agree (measured: 0.14 % and 0.18 %)
    assert np.mean(run["metabolic_w_per_kg"]) == pytest.approx(np.mean(trace["metabolic_w_per_kg"]), rel=0.01)
    assert np.mean(run["rewards"]) == pytest.approx(np.mean(trace["rewards"]), rel=0.01)


def test_muscle_allocation_is_the_exact_bounded_least_squares_at_every_step(replay):
    _, _, allocations, env = replay
    regularisation = env.config.tracking_prior.regularisation
    assert len(allocations) == 500
    assert env._allocator.fallbacks == 0  # the compiled solver alone was optimal at every step
    for torque_map, torques, solution in allocations:
        n = torque_map.shape[1]
        system = np.vstack([torque_map, np.sqrt(regularisation) * np.eye(n)])
        bvls = lsq_linear(system, np.r_[torques, np.zeros(n)], bounds=(0.0, 1.0), method="bvls").x
        np.testing.assert_allclose(solution, bvls, atol=1e-9)
        assert np.all((solution >= 0.0) & (solution <= 1.0))


def test_contacts_state_and_reference_match_the_slow_computations_at_every_step(replay):
    _, run, _, _ = replay
    loaded = 0
    for checks in run["checks"]:
        fast, slow = checks["contact"]
        np.testing.assert_array_equal(fast, slow)  # the same bits as mj_contactForce
        loaded += fast.sum() > 0
        for name in ("body", "muscles"):
            fast_state, fresh = checks[name]
            for field in dataclasses.fields(fresh):
                np.testing.assert_array_equal(getattr(fast_state, field.name), getattr(fresh, field.name))
        for name in ("reference_angles", "reference_velocities"):
            np.testing.assert_array_equal(*checks[name])
    assert loaded > 0.9 * len(run["checks"])  # the check is not vacuous: feet are loaded (measured 459 of 500)


def test_body_state_does_not_alias_the_simulation(replay):
    *_, env = replay
    state = env.backend.body_state()
    before = {f.name: np.copy(getattr(state, f.name)) for f in dataclasses.fields(state)}
    env.step(np.zeros(env.action_space.shape, dtype=np.float32))
    for name, value in before.items():
        np.testing.assert_array_equal(getattr(state, name), value)
