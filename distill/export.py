"""ONNX export with a parity check, and the bundle (docs/bundle.md) the device runtime loads."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import torch

from firmware_bridge.atomic import atomic_folder
from firmware_bridge.bundle import INPUT_NAME, OUTPUT_NAME, manifest_for, read_manifest, shaping_section, write_manifest
from firmware_bridge.config import DeviceConfig
from firmware_bridge.config.paths import REPO_ROOT
from firmware_bridge.features import FeatureSpec

OPSET = 17
PARITY_TOLERANCE = 1e-5


def export_onnx(model: torch.nn.Module, spec: FeatureSpec, path: Path) -> None:
    import onnx

    model.eval()
    example = torch.zeros(1, spec.window, len(spec.channels))
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


def parity(model: torch.nn.Module, path: Path, windows: np.ndarray) -> float:
    """Max |torch − ONNX Runtime| over the given windows, one at a time as the device runs them."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    worst = 0.0
    with torch.no_grad():
        for window in windows:
            reference = model(torch.from_numpy(window[None])).numpy()
            got = session.run(None, {INPUT_NAME: window[None]})[0]
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
    model: torch.nn.Module, spec: FeatureSpec, device: DeviceConfig, out: Path, windows: np.ndarray, provenance: dict
) -> tuple[Path, float]:
    """The bundle folder ``out``, written whole or not at all (firmware_bridge.atomic)."""
    out = Path(out)
    with atomic_folder(out) as staging:
        export_onnx(model, spec, staging / "student.onnx")
        worst = parity(model, staging / "student.onnx", windows)
        if worst > PARITY_TOLERANCE:
            raise ValueError(f"ONNX parity {worst:.2e} exceeds {PARITY_TOLERANCE:g}: not writing a bundle")
        shaping = shaping_section(device)
        provenance = {**provenance, "git_commit": git_commit(), "onnx_parity_max_abs": worst}
        manifest = manifest_for(
            spec, device.command_full_scale_nm_per_kg, model={"opset": OPSET}, shaping=shaping, provenance=provenance
        )
        write_manifest(staging, manifest)
    return out, worst


def record_eval(bundle_dir: Path, figures: dict) -> Path:
    """Put the eval's headline figures into the bundle's provenance (an earlier signature is dropped: re-sign)."""
    manifest = read_manifest(bundle_dir)
    manifest["provenance"] = {**manifest.get("provenance", {}), "eval": figures}
    return write_manifest(bundle_dir, manifest)


def bundle_from_distillation(result: dict, device: DeviceConfig) -> tuple[Path, float]:
    """The bundle of what :func:`distill.train.distil` returned, parity-checked on the last datasets' windows."""
    from datetime import datetime, timezone

    from distill.train import datasets, windows_and_labels

    windows, _ = windows_and_labels(result["spec"], datasets(result["out"])[-2:])
    summary = result["summary"]
    provenance = {
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "teacher_sha256": summary["teacher_sha256"],
        "teacher_steps": summary["teacher_steps"],
        "datasets_sha256": {
            path.stem: json.loads(path.read_text())["sha256"]
            for path in sorted((result["out"] / "data").glob("*.json"))
        },
        "training": summary["rounds"],
    }
    return write_bundle(
        result["model"],
        result["spec"],
        device,
        result["out"] / "bundle",
        windows[:: max(1, len(windows) // 200)],
        provenance,
    )
