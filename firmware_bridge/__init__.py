"""hipexo device runtime: what runs on the exoskeleton's device computer.

Depends only on numpy, onnxruntime, pyserial and PyYAML (plus the standard library), so that the base
``pip install hipexo`` is enough on the device. The torque-shaping chain and the IMU feature window
here are imported by the simulator and distillation, never re-implemented.
"""

__version__ = "0.1.0"
