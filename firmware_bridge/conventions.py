"""Project-wide conventions, stated once in code (docs/conventions.md explains them)."""

SIDES = ("right", "left")
"""Order of every bilateral quantity: index 0 is right, index 1 is left."""

HIP_FLEXION_POSITIVE = True
"""Hip flexion angle is positive; a positive hip torque assists flexion (negative assists extension)."""

GRAVITY_M_S2 = 9.80665
"""Accelerometers report specific force including gravity: a sensor at rest reads +g upward."""

GAIT_CYCLE = "0-100 % from heel strike of the same leg"

IMU_CHANNEL_ORDER = ("gyro_x", "gyro_y", "gyro_z", "accel_x", "accel_y", "accel_z")
"""Per-IMU values in wire and array order: gyroscope rad/s, then accelerometer m/s^2, sensor frame."""
