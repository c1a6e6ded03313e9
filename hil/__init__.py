"""Hardware-in-the-loop bench: IMU simulator, motor-controller emulator, fault injection."""
