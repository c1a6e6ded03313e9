"""Reference gait: speed interpolation, left leg half a cycle behind, velocities consistent with angles."""

from __future__ import annotations

import numpy as np
import pytest

from teacher.sim.reference import MODEL_ANGLE_SIGN, ReferenceGait


@pytest.fixture(scope="module")
def reference() -> ReferenceGait:
    return ReferenceGait()


def test_sample_at_a_tabulated_speed_and_phase_is_the_table_row(reference):
    speed = float(reference.speeds[1])
    sample = reference.sample(speed, 0.25)
    row_right, row_left = reference.table[1, 25], reference.table[1, 75]
    np.testing.assert_allclose(sample.angles_rad[0], np.deg2rad(row_right[:3]) * MODEL_ANGLE_SIGN, atol=1e-12)
    np.testing.assert_allclose(sample.angles_rad[1], np.deg2rad(row_left[:3]) * MODEL_ANGLE_SIGN, atol=1e-12)
    assert sample.hip_moment_nm_per_kg[0] == pytest.approx(row_right[3])


def test_speeds_between_the_table_interpolate_linearly(reference):
    lo, hi = float(reference.speeds[0]), float(reference.speeds[1])
    mid = reference.sample(0.5 * (lo + hi), 0.1).angles_rad
    np.testing.assert_allclose(
        mid, 0.5 * (reference.sample(lo, 0.1).angles_rad + reference.sample(hi, 0.1).angles_rad), atol=1e-12
    )


def test_velocity_matches_the_time_derivative_of_angle(reference):
    speed, phase = 1.25, 0.4
    stride = reference.stride_time_s(speed)
    dphase = 0.001
    a0 = reference.sample(speed, phase).angles_rad
    a1 = reference.sample(speed, phase + dphase).angles_rad
    np.testing.assert_allclose(
        reference.sample(speed, phase).velocities_rad_s, (a1 - a0) / (dphase * stride), rtol=1e-6
    )


def test_vectorised_phases_equal_one_by_one_and_wrap(reference):
    phases = np.array([0.0, 0.33, 0.999, 1.2, 2.5])
    angles, velocities, moments = reference.sample_phases(1.1, phases)
    for k, p in enumerate(phases):
        single = reference.sample(1.1, p % 1.0)
        np.testing.assert_allclose(angles[k], single.angles_rad, atol=1e-12)
        np.testing.assert_allclose(velocities[k], single.velocities_rad_s, atol=1e-9)
        np.testing.assert_allclose(moments[k], single.moments_nm_per_kg, atol=1e-12)
