"""The student bundle: ``student.onnx`` plus ``manifest.json`` (docs/bundle.md), checked before any torque.

Loading verifies, in order: the signature (``signing.py``) against the device's trusted keys; the
manifest parses and has every field; every listed file is present with
the recorded SHA-256; the ONNX graph's input and output names, shapes and dtypes match the manifest;
the manifest's feature rate, channels and output scaling match the device's runtime and device configs;
the manifest's ``shaping`` section (the shaping chain and limits the student was trained with) matches
the device config. Any mismatch raises :class:`BundleError` naming the field, what the bundle says and
what was expected. A shaping mismatch alone may be accepted with an explicit override
(``accept_shaping_mismatch``), which the caller must log: :attr:`Bundle.shaping_mismatches`.

A bundle holds one of two kinds of model (``model.kind``; bundles from before streaming have no kind and
are windowed): ``windowed`` takes the whole feature window each call; ``streaming`` takes only the samples
since its previous call plus its state (``model.state``: one tensor per entry, fed back from the output named
``next``), which the runtime holds and zeroes whenever the feature window restarts.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from firmware_bridge import atomic
from firmware_bridge.config import DeviceConfig, RuntimeConfig
from firmware_bridge.features import FeatureSpec
from firmware_bridge.signing import SIGNATURE, SignatureCheck, Trust, check_signature

MANIFEST = "manifest.json"
FORMAT = "hipexo-bundle"
FORMAT_VERSION = 1
OUTPUT_SIDES = ["right", "left"]
ONNX_DTYPES = {"tensor(float)": "float32", "tensor(double)": "float64"}
KINDS = ("windowed", "streaming")


class BundleError(ValueError):
    """A bundle that must not run: what is wrong, where."""

    def __init__(self, bundle_dir: Path, problems: list[str]):
        self.problems = problems
        super().__init__(f"{bundle_dir}: bundle refused\n" + "\n".join(f"  {p}" for p in problems))


@dataclass(frozen=True)
class TensorSpec:
    name: str
    shape: list[int]
    dtype: str


@dataclass(frozen=True)
class StateSpec(TensorSpec):
    """One streaming state tensor: fed as input ``name``, returned as output ``next``."""

    next: str


@dataclass(frozen=True)
class Bundle:
    directory: Path
    manifest: dict[str, Any]
    model_path: Path
    input: TensorSpec
    output: TensorSpec
    features: FeatureSpec
    signature: SignatureCheck
    shaping_mismatches: tuple[str, ...] = ()
    """Differences from the device's shaping accepted under ``accept_shaping_mismatch``."""
    state: tuple[StateSpec, ...] = ()
    """A streaming model's state tensors; empty for a windowed model."""

    @property
    def model_sha256(self) -> str:
        return self.manifest["files"][self.manifest["model"]["file"]]


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _require(mapping: Any, key: str, where: str, problems: list[str], kind: type | tuple[type, ...]) -> Any:
    if not isinstance(mapping, dict) or key not in mapping:
        problems.append(f"{where}{key}: missing")
        return None
    value = mapping[key]
    if not isinstance(value, kind):
        problems.append(f"{where}{key}: expected {getattr(kind, '__name__', kind)}, got {type(value).__name__}")
        return None
    return value


def _tensor(section: Any, where: str, problems: list[str]) -> TensorSpec | None:
    name = _require(section, "name", where, problems, str)
    shape = _require(section, "shape", where, problems, list)
    dtype = _require(section, "dtype", where, problems, str)
    if None in (name, shape, dtype):
        return None
    if not all(isinstance(d, int) and d > 0 for d in shape):
        problems.append(f"{where}shape: must be positive integers, got {shape}")
        return None
    return TensorSpec(name, shape, dtype)


def read_manifest(bundle_dir: Path) -> dict[str, Any]:
    path = Path(bundle_dir) / MANIFEST
    if not path.is_file():
        raise BundleError(Path(bundle_dir), [f"{MANIFEST}: not found"])
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BundleError(Path(bundle_dir), [f"{MANIFEST}: not valid JSON ({exc})"]) from exc
    if not isinstance(manifest, dict):
        raise BundleError(Path(bundle_dir), [f"{MANIFEST}: expected a JSON object"])
    return manifest


def shaping_section(device: DeviceConfig) -> dict[str, float | int]:
    """The manifest's ``shaping``: the chain and limits a student is trained under, checked at load."""
    return {
        "torque_limit_nm": device.torque_limit_nm,
        "rate_limit_nm_per_s": device.rate_limit_nm_per_s,
        "lowpass_cutoff_hz": device.lowpass.cutoff_hz,
        "lowpass_order": device.lowpass.order,
        "soft_start_s": device.soft_start_s,
        "fade_out_s": device.fade_out_s,
    }


def shaping_mismatches(manifest: dict[str, Any], device: DeviceConfig) -> list[str]:
    """Each field of the manifest's ``shaping`` that differs from the device config, with both values."""
    trained = manifest.get("shaping")
    if not isinstance(trained, dict):
        return ["shaping: missing from the manifest (the bundle does not say which shaping it was trained with)"]
    out = []
    for key, value in shaping_section(device).items():
        got = trained.get(key)
        if not isinstance(got, (int, float)) or abs(float(got) - float(value)) > 1e-9:
            out.append(f"shaping.{key}: bundle {got!r}, device config {value!r}")
    return out


def load_bundle(
    bundle_dir: Path,
    runtime: RuntimeConfig,
    device: DeviceConfig,
    *,
    trust: Trust,
    accept_shaping_mismatch: bool = False,
) -> Bundle:
    """Read and check a bundle against its signature, itself, its ONNX graph and the device's configs."""
    import onnxruntime

    bundle_dir = Path(bundle_dir)
    if not (bundle_dir / MANIFEST).is_file():
        raise BundleError(bundle_dir, [f"{MANIFEST}: not found"])
    signature, problems = check_signature(bundle_dir, trust)
    if signature is None:
        raise BundleError(bundle_dir, problems)
    manifest = read_manifest(bundle_dir)
    if manifest.get("format") != FORMAT or manifest.get("format_version") != FORMAT_VERSION:
        problems.append(
            f"format: expected {FORMAT!r} version {FORMAT_VERSION}, "
            f"got {manifest.get('format')!r} version {manifest.get('format_version')!r}"
        )
    model = _require(manifest, "model", "", problems, dict) or {}
    model_file = _require(model, "file", "model.", problems, str)
    tensor_in = _tensor(model.get("input"), "model.input.", problems)
    tensor_out = _tensor(model.get("output"), "model.output.", problems)
    sides = model.get("output_sides")
    if sides != OUTPUT_SIDES:
        problems.append(f"model.output_sides: expected {OUTPUT_SIDES}, got {sides!r}")
    kind = model.get("kind", "windowed")
    if kind not in KINDS:
        problems.append(f"model.kind: expected one of {list(KINDS)}, got {kind!r}")
    state = _state(model, problems) if kind == "streaming" else ()
    feats = _require(manifest, "features", "", problems, dict) or {}
    spec = None
    try:
        spec = FeatureSpec(
            channels=tuple(feats["channels"]),
            window=int(feats["window"]),
            rate_hz=float(feats["rate_hz"]),
            mean=tuple(float(v) for v in feats["mean"]),
            std=tuple(float(v) for v in feats["std"]),
            stream=kind == "streaming",
        )
    except (KeyError, TypeError, ValueError) as exc:
        problems.append(f"features: {exc if not isinstance(exc, KeyError) else f'missing {exc}'}")
    scaling = _require(manifest, "output_scaling", "", problems, dict) or {}
    full_scale = _require(scaling, "command_full_scale_nm_per_kg", "output_scaling.", problems, (int, float))
    files = _require(manifest, "files", "", problems, dict) or {}
    if problems:
        raise BundleError(bundle_dir, problems)

    for name, digest in files.items():
        path = bundle_dir / name
        if not path.is_file():
            problems.append(f"files.{name}: missing from the bundle")
        elif sha256_file(path) != digest:
            problems.append(f"files.{name}: SHA-256 does not match the manifest (file altered or corrupt)")
    if model_file not in files:
        problems.append(f"model.file: {model_file!r} has no checksum under 'files'")
    if problems:
        raise BundleError(bundle_dir, problems)

    assert spec is not None and tensor_in is not None and tensor_out is not None
    expected_in = [1, 1 if spec.stream else spec.window, len(spec.channels)]
    if tensor_in.shape != expected_in:
        problems.append(f"model.input.shape: {tensor_in.shape} does not match features (expected {expected_in})")
    if tensor_out.shape != [1, 2]:
        problems.append(f"model.output.shape: expected [1, 2] (right, left), got {tensor_out.shape}")
    if abs(spec.rate_hz - runtime.loop_rate_hz) > 1e-9:
        problems.append(f"features.rate_hz: bundle is {spec.rate_hz:g} Hz, runtime loop is {runtime.loop_rate_hz:g} Hz")
    unknown = [n for n in spec.imu_names if n not in device.imu_ids()]
    if unknown:
        problems.append(f"features.channels: IMUs {unknown} are not on this device ({list(device.imu_ids())})")
    if abs(float(full_scale) - device.command_full_scale_nm_per_kg) > 1e-9:
        problems.append(
            f"output_scaling.command_full_scale_nm_per_kg: bundle {full_scale}, "
            f"device config {device.command_full_scale_nm_per_kg}"
        )
    mismatches = shaping_mismatches(manifest, device)
    if mismatches and not accept_shaping_mismatch:
        problems += [*mismatches, "(to run it anyway: --accept-shaping-mismatch, which is logged at every start)"]
    try:
        session = onnxruntime.InferenceSession(str(bundle_dir / model_file), providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types for unreadable graphs
        problems.append(f"model.file: ONNX Runtime cannot load {model_file} ({exc})")
        raise BundleError(bundle_dir, problems) from exc
    if spec.stream and spec.window < model.get("receptive_field", 0):
        problems.append(
            f"features.window: {spec.window} periods do not cover model.receptive_field "
            f"{model['receptive_field']}: a restart would not refill the stream's whole history"
        )
    _compare_graph("input", session.get_inputs(), [tensor_in, *state], problems)
    outputs = [tensor_out, *(TensorSpec(s.next, s.shape, s.dtype) for s in state)]
    _compare_graph("output", session.get_outputs(), outputs, problems)
    if problems:
        raise BundleError(bundle_dir, problems)
    return Bundle(
        bundle_dir, manifest, bundle_dir / model_file, tensor_in, tensor_out, spec, signature, tuple(mismatches), state
    )


def _state(model: dict, problems: list[str]) -> tuple[StateSpec, ...]:
    entries = _require(model, "state", "model.", problems, list) or []
    state = []
    for i, entry in enumerate(entries):
        tensor = _tensor(entry, f"model.state[{i}].", problems)
        next_name = _require(entry, "next", f"model.state[{i}].", problems, str)
        if tensor is not None and next_name is not None:
            state.append(StateSpec(tensor.name, tensor.shape, tensor.dtype, next_name))
    _require(model, "receptive_field", "model.", problems, int)
    return tuple(state)


def _compare_graph(kind: str, graph: list[Any], declared: list[TensorSpec], problems: list[str]) -> None:
    if len(graph) != len(declared):
        wanted = "exactly one" if len(declared) == 1 else f"{len(declared)} (the model and its state)"
        problems.append(f"model.{kind}: the ONNX graph has {len(graph)} {kind}s, the runtime needs {wanted}")
        return
    for i, (node, spec) in enumerate(zip(graph, declared, strict=True)):
        where = f"model.{kind}" if i == 0 else f"model.state[{i - 1}]"
        if node.name != spec.name:
            problems.append(f"{where}.name: manifest {spec.name!r}, ONNX graph {node.name!r}")
        dtype = ONNX_DTYPES.get(node.type, node.type)
        if dtype != spec.dtype:
            problems.append(f"{where}.dtype: manifest {spec.dtype}, ONNX graph {dtype}")
        graph_shape = [d if isinstance(d, int) else None for d in node.shape]
        if len(graph_shape) != len(spec.shape) or any(
            g is not None and g != d for g, d in zip(graph_shape, spec.shape, strict=False)
        ):
            problems.append(f"{where}.shape: manifest {spec.shape}, ONNX graph {list(node.shape)}")


INPUT_NAME = "imu_window"
STREAM_INPUT_NAME = "imu_samples"
OUTPUT_NAME = "hip_command"


def manifest_for(spec: FeatureSpec, command_full_scale_nm_per_kg: float, **sections: Any) -> dict[str, Any]:
    """The manifest of a windowed ``student.onnx``: one (1, window, channels) input and one (1, 2) output.

    ``sections`` adds or extends top-level entries (``provenance``, ``shaping``, extra ``model`` fields:
    :func:`streaming_model` for a streaming student).
    """
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model": {
            "file": "student.onnx",
            "kind": "windowed",
            "input": {"name": INPUT_NAME, "shape": [1, spec.window, len(spec.channels)], "dtype": "float32"},
            "output": {"name": OUTPUT_NAME, "shape": [1, 2], "dtype": "float32"},
            "output_sides": OUTPUT_SIDES,
            "sign": "positive assists hip flexion",
        },
        "features": {
            "channels": list(spec.channels),
            "window": spec.window,
            "rate_hz": spec.rate_hz,
            "mean": list(spec.mean),
            "std": list(spec.std),
        },
        "output_scaling": {"command_full_scale_nm_per_kg": command_full_scale_nm_per_kg},
    }
    for key, value in sections.items():
        manifest[key] = {**manifest[key], **value} if isinstance(manifest.get(key), dict) else value
    return manifest


def streaming_model(
    spec: FeatureSpec, state: list[tuple[str, tuple[int, ...]]], receptive_field: int
) -> dict[str, Any]:
    """The ``model`` fields of a streaming student: its per-call input (the time axis is dynamic in the graph:
    one sample per cycle, the whole window on a restart), its state tensors and its receptive field."""
    return {
        "kind": "streaming",
        "input": {"name": STREAM_INPUT_NAME, "shape": [1, 1, len(spec.channels)], "dtype": "float32"},
        "state": [
            {"name": name, "next": f"{name}_next", "shape": list(shape), "dtype": "float32"} for name, shape in state
        ],
        "receptive_field": receptive_field,
    }


def write_manifest(bundle_dir: Path, manifest: dict[str, Any]) -> Path:
    """Fill in ``files`` (SHA-256 of every file but the manifest and its signature) and write ``manifest.json``.

    A signature of an earlier manifest no longer holds, so it is removed: sign after this.
    """
    bundle_dir = Path(bundle_dir)
    (bundle_dir / SIGNATURE).unlink(missing_ok=True)
    manifest = dict(manifest)
    manifest["files"] = {
        p.name: sha256_file(p) for p in sorted(bundle_dir.iterdir()) if p.is_file() and p.name != MANIFEST
    }
    return atomic.write_text(bundle_dir / MANIFEST, json.dumps(manifest, indent=2) + "\n")
