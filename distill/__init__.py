"""Distillation of the teacher into an IMU-only student, ONNX export and the bundle (``train`` extra)."""
