"""ONNX export with a parity check, and the bundle (docs/bundle.md) the device runtime loads."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import torch

from distill.streaming import StreamingStudent, run_stream, state_names, streamable
from firmware_bridge.atomic import atomic_folder
from firmware_bridge.bundle import (
    INPUT_NAME,
    OUTPUT_NAME,
    STREAM_INPUT_NAME,
    manifest_for,
    read_manifest,
    shaping_section,
    streaming_model,
    write_manifest,
)
from firmware_bridge.config import DeviceConfig
from firmware_bridge.config.paths import REPO_ROOT
from firmware_bridge.features import FeatureSpec, normalised, windows_of

OPSET = 17
PARITY_TOLERANCE = 1e-5
PARITY_SEQUENCES = 4
"""Episodes (or, with no dataset at hand, seeded random normalised sequences) the parity check runs over."""


def export_onnx(model: torch.nn.Module, spec: FeatureSpec, path: Path, streaming: bool = False) -> dict[str, Any]:
    """Write ``path``; returns the manifest's ``model`` fields of its kind (:func:`streaming_model`'s, or none).

    The streaming form needs the window to cover the receptive field: only then does the windowed student,
    which it must reproduce, not see its own zero padding.
    """
    import onnx

    model.eval()
    example = torch.zeros(1, spec.window, len(spec.channels))
    if not streaming:
        torch.onnx.export(
            model,
            (example,),
            path,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            opset_version=OPSET,
            dynamo=False,
        )
        onnx.checker.check_model(onnx.load(path))
        return {}
    if not streamable(model):
        raise ValueError(f"{type(model).__name__} has no streaming form (a causal TCN has)")
    if model.receptive_field > spec.window:
        raise ValueError(
            f"streaming export: the window ({spec.window}) must cover the receptive field ({model.receptive_field})"
        )
    wrapper = StreamingStudent(model)
    fields = streaming_model(
        spec, list(zip(state_names(model), model.state_shapes(1), strict=True)), model.receptive_field
    )
    torch.onnx.export(
        wrapper,
        (example, *map(torch.from_numpy, wrapper.zero_state())),
        path,
        input_names=[STREAM_INPUT_NAME, *(s["name"] for s in fields["state"])],
        output_names=[OUTPUT_NAME, *(s["next"] for s in fields["state"])],
        dynamic_axes={STREAM_INPUT_NAME: {1: "samples"}},
        opset_version=OPSET,
        dynamo=False,
    )
    onnx.checker.check_model(onnx.load(path))
    return fields


def parity(
    model: torch.nn.Module, path: Path, sequences: list[np.ndarray], window: int, fields: dict[str, Any]
) -> float:
    """Max |windowed PyTorch − ONNX Runtime| over every period of each ``(T, channels)`` normalised sequence with
    a full window, the ONNX model run as the device runs it: a window per call, or (streaming ``fields``) one
    sample per call with its state fed back."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [s["name"] for s in fields.get("state", [])]
    outputs = [OUTPUT_NAME, *(s["next"] for s in fields.get("state", []))]

    def step(samples: np.ndarray, state: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
        out, *next_state = session.run(outputs, {STREAM_INPUT_NAME: samples, **dict(zip(names, state, strict=True))})
        return out, next_state

    worst = 0.0
    for sequence in sequences:
        windows = windows_of(sequence, window)
        with torch.no_grad():
            reference = model(torch.from_numpy(windows)).numpy()
        if fields:
            zero = [np.zeros(s["shape"], dtype=np.float32) for s in fields["state"]]
            got = run_stream(step, zero, sequence, window)
        else:
            got = np.concatenate([session.run(None, {INPUT_NAME: w[None]})[0] for w in windows])
        worst = max(worst, float(np.abs(reference - got).max()))
    return worst


def git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def write_bundle(
    model: torch.nn.Module,
    spec: FeatureSpec,
    device: DeviceConfig,
    out: Path,
    sequences: list[np.ndarray],
    provenance: dict,
    streaming: bool = False,
) -> tuple[Path, float]:
    """The bundle folder ``out``, written whole or not at all (firmware_bridge.atomic)."""
    out = Path(out)
    with atomic_folder(out) as staging:
        fields = export_onnx(model, spec, staging / "student.onnx", streaming)
        worst = parity(model, staging / "student.onnx", sequences, spec.window, fields)
        if worst > PARITY_TOLERANCE:
            raise ValueError(f"ONNX parity {worst:.2e} exceeds {PARITY_TOLERANCE:g}: not writing a bundle")
        shaping = shaping_section(device)
        provenance = {**provenance, "git_commit": git_commit(), "onnx_parity_max_abs": worst}
        manifest = manifest_for(
            spec,
            device.command_full_scale_nm_per_kg,
            model={"opset": OPSET, **fields},
            shaping=shaping,
            provenance=provenance,
        )
        write_manifest(staging, manifest)
    return out, worst


def record_eval(bundle_dir: Path, figures: dict) -> Path:
    """Put the eval's headline figures into the bundle's provenance (an earlier signature is dropped: re-sign)."""
    manifest = read_manifest(bundle_dir)
    manifest["provenance"] = {**manifest.get("provenance", {}), "eval": figures}
    return write_manifest(bundle_dir, manifest)


def bundle_from_distillation(result: dict, device: DeviceConfig, streaming: bool = True) -> tuple[Path, float]:
    """The bundle of what :func:`distill.train.distil` returned, parity-checked on the last datasets' episodes.

    ``streaming`` exports a causal TCN's streaming form (other students export windowed). With no dataset at
    hand (a committed student whose data/ was not kept), the earlier bundle's provenance is kept and parity
    runs on seeded random sequences: the same weights compute the same function, which is what parity checks.
    """
    from datetime import datetime, timezone

    from distill.train import IMU_NAMES, datasets

    out, spec, model = result["out"], result["spec"], result["model"]
    streaming = streaming and streamable(model)
    episodes = datasets(out)[-2:]
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    if episodes:
        step = max(1, len(episodes) // PARITY_SEQUENCES)
        sequences = [normalised(spec, IMU_NAMES, e.imu.reshape(len(e.imu), -1)) for e in episodes[::step]]
        summary = result["summary"]
        provenance = {
            "created_utc": now,
            "teacher_sha256": summary["teacher_sha256"],
            "teacher_steps": summary["teacher_steps"],
            "datasets_sha256": {
                path.stem: json.loads(path.read_text())["sha256"] for path in sorted((out / "data").glob("*.json"))
            },
            "training": summary["rounds"],
        }
    elif (out / "bundle" / "manifest.json").is_file():
        earlier = read_manifest(out / "bundle")
        rng = np.random.default_rng(0)
        sequences = list(rng.standard_normal((PARITY_SEQUENCES, 4 * spec.window, len(spec.channels)), dtype=np.float32))
        provenance = {
            **earlier["provenance"],
            "reexported_utc": now,
            "reexported_from_model_sha256": earlier["files"][earlier["model"]["file"]],
        }
    else:
        raise FileNotFoundError(f"{out / 'data'}: no datasets to check parity on and no earlier bundle to re-export")
    return write_bundle(model, spec, device, out / "bundle", sequences, provenance, streaming)
