"""Student training and the DAgger loop, read top to bottom.

Windows come from firmware_bridge's ``sliding_windows`` (the offline twin of the device's feature window)
with the normalisation measured on the first dataset; the label of a window is the teacher's command at
its newest period. Every epoch each walk is worn with freshly drawn sensors (mounting, bias, noise, latency,
drops) over its clean IMU. With the draws fixed at collection, a student fitted on the slope grid's 45 round-0
walks tracked walks it never saw 1.7 times worse (held-out RMSE 0.052 against 0.030 N·m/kg; docs/teacher.md,
"Fresh sensors every epoch").
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from distill.collect import Episode, RolloutTask, dataset_complete, load_dataset, run_rollout_task, save_dataset
from distill.config import DistillConfig, RandomisationConfig
from distill.models import build_student
from distill.randomise import SensorModel
from firmware_bridge import atomic
from firmware_bridge.config.paths import REPO_ROOT
from firmware_bridge.features import FeatureSpec, sliding_windows
from teacher.executor import Executor, make_executor

IMU_NAMES = ("pelvis", "thigh_r", "thigh_l")
"""Order of the simulated IMUs (the device config's), as collected."""


def feature_spec(config: DistillConfig, episodes: list[Episode], rate_hz: float) -> FeatureSpec:
    """Channel order and window from the config; mean and std measured on the data."""
    flat = np.concatenate([e.imu.reshape(len(e.imu), -1) for e in episodes])
    index = [IMU_NAMES.index(c.split(".")[0]) * 6 + _offset(c) for c in config.student.channels]
    values = flat[:, index]
    std = np.maximum(values.std(axis=0), 1e-3)
    mean = tuple(float(v) for v in values.mean(axis=0))  # plain floats: they go into the JSON manifest
    return FeatureSpec(tuple(config.student.channels), config.student.window, rate_hz, mean, tuple(map(float, std)))


def _offset(channel: str) -> int:
    quantity, axis = channel.split(".")[1].split("_")
    return {"gyro": 0, "accel": 3}[quantity] + "xyz".index(axis)


def windows_and_labels(spec: FeatureSpec, episodes: list[Episode]) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = [], []
    for e in episodes:
        if len(e.imu) < spec.window:
            continue
        xs.append(sliding_windows(spec, IMU_NAMES, e.imu.reshape(len(e.imu), -1)))
        ys.append(e.labels[spec.window - 1 :])
    return np.concatenate(xs), np.concatenate(ys).astype(np.float32)


def window_count(spec: FeatureSpec, episodes: list[Episode]) -> int:
    """How many windows :func:`windows_and_labels` makes of these walks, without making them."""
    return sum(len(e.imu) - spec.window + 1 for e in episodes if len(e.imu) >= spec.window)


def with_fresh_sensors(
    episodes: list[Episode], randomisation: RandomisationConfig, rng: np.random.Generator
) -> list[Episode]:
    """Each walk's clean IMU through a newly drawn sensor model: the same walk, worn by other sensors."""
    return [
        dataclasses.replace(
            e, imu=SensorModel.draw(randomisation, e.clean_imu.shape[1], len(e.clean_imu), rng).apply(e.clean_imu)
        )
        for e in episodes
    ]


def fit(
    model: torch.nn.Module, spec: FeatureSpec, episodes: list[Episode], config: DistillConfig, progress: bool
) -> list[float]:
    """Adam on the MSE to the teacher's command, each epoch over the walks with fresh sensors."""
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    losses = []
    for _ in tqdm(range(config.epochs), desc="student epochs", disable=not progress):
        x, y = windows_and_labels(spec, with_fresh_sensors(episodes, config.randomisation, rng))
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)
        order = torch.randperm(len(xt))
        total = 0.0
        for start in range(0, len(order), config.batch_size):
            batch = order[start : start + config.batch_size]
            loss = torch.nn.functional.mse_loss(model(xt[batch]), yt[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += loss.item() * len(batch)
        losses.append(total / len(xt))
    return losses


@dataclass
class StudentDriver:
    """The student as the env's exo driver in a DAgger round: newest window of the randomised history.

    A class, not a closure, so that it pickles and travels with the rollouts to the executor's workers.
    """

    model: torch.nn.Module
    spec: FeatureSpec

    def __call__(self, history: np.ndarray) -> np.ndarray:
        spec = self.spec
        if len(history) < spec.window:
            return np.zeros(2)
        window = sliding_windows(spec, IMU_NAMES, history[-spec.window :].reshape(spec.window, -1))
        with torch.no_grad():
            return self.model(torch.from_numpy(window)).numpy()[0]


def collect(
    teacher,
    config: DistillConfig,
    driver: StudentDriver | None = None,
    seed_offset: int = 0,
    progress: bool = True,
    executor: Executor | None = None,
) -> list[Episode]:
    """Every condition's episodes, in parallel through ``executor`` (default: a local pool for this call)."""
    conditions = [(s, sl) for s in config.speeds_m_s for sl in config.slopes_deg]
    run_dir = str(teacher.run_dir.resolve())  # cluster workers do not share our working directory
    tasks = [
        RolloutTask(run_dir, teacher.hash, config, s, sl, config.seed + seed_offset + 1000 * i + k, driver)
        for i, (s, sl) in enumerate(conditions)
        for k in range(config.episodes_per_condition)
    ]
    with contextlib.nullcontext(executor) if executor else make_executor() as pool:
        return pool.map(run_rollout_task, tasks, labels=[t.label for t in tasks], desc="rollouts", progress=progress)


def output_dir(config: DistillConfig) -> Path:
    return REPO_ROOT / config.out_dir


def collect_stage(config: DistillConfig, progress: bool = True, executor: Executor | None = None) -> Path:
    """Round 0: the teacher drives and labels. Kept when it exists for the same teacher checkpoint."""
    from teacher.policy import TeacherPolicy

    path = output_dir(config) / "data" / "round_0.npz"
    teacher = TeacherPolicy(REPO_ROOT / config.teacher)
    if dataset_complete(path) and _made_from(path, teacher_sha256=teacher.hash):
        return path
    meta = {"teacher": config.teacher, "teacher_sha256": teacher.hash, "teacher_steps": teacher.total_steps}
    episodes = collect(teacher, config, progress=progress, executor=executor)
    return save_dataset(path, episodes, {**meta, "round": 0, "driver": "teacher"})


def train_stage(config: DistillConfig, progress: bool = True, executor: Executor | None = None) -> dict:
    """Fit on round 0, then DAgger rounds (the student drives, the teacher labels, aggregate, refit).

    Each round's dataset (``data/round_<r>.npz``) and model (``student_round_<r>.pt``) are kept, so an
    interrupted run resumes after the last finished round. Each records what it was made from (the teacher, the
    datasets the model was fitted on): one made for another teacher or other data is made again, never reused.
    """
    from teacher.policy import TeacherPolicy

    out = output_dir(config)
    if not dataset_complete(out / "data" / "round_0.npz"):
        raise FileNotFoundError(f"{out / 'data' / 'round_0.npz'}: run 'hipexo distill collect' first")
    teacher = TeacherPolicy(REPO_ROOT / config.teacher)
    meta = {"teacher": config.teacher, "teacher_sha256": teacher.hash, "teacher_steps": teacher.total_steps}
    data = out / "data" / "round_0.npz"
    if not _made_from(data, teacher_sha256=teacher.hash):  # no walks of this teacher to start from
        raise FileNotFoundError(f"{data}: holds another teacher's walks: run 'hipexo distill collect' first")
    episodes = load_dataset(data)
    fitted_on = [json.loads(data.with_suffix(".json").read_text())["sha256"]]
    spec = feature_spec(config, episodes, teacher.sim_config.device_rate_hz)
    model = build_student(config.student, spec)
    history = []
    for round_ in range(config.dagger_iterations + 1):
        saved = out / f"student_round_{round_}.pt"
        origin = {"teacher_sha256": teacher.hash, "datasets": fitted_on}
        if saved.is_file() and _made_from(saved, **origin):  # the .json is written last
            model.load_state_dict(torch.load(saved))
        else:
            entry = {
                "round": round_,
                "windows": window_count(spec, episodes),
                "final_loss": fit(model, spec, episodes, config, progress)[-1],
            }
            save_model(model, saved)
            atomic.write_text(saved.with_suffix(".json"), json.dumps({**entry, **origin}))
        history.append({k: json.loads(saved.with_suffix(".json").read_text())[k] for k in ROUND_FIGURES})
        if round_ == config.dagger_iterations:
            break
        data = out / "data" / f"round_{round_ + 1}.npz"
        if not (dataset_complete(data) and _made_from(data, teacher_sha256=teacher.hash, driven_by=fitted_on)):
            driver = StudentDriver(model, spec)
            new = collect(teacher, config, driver, 100_000 * (round_ + 1), progress, executor)
            save_dataset(data, new, {**meta, "round": round_ + 1, "driver": "student", "driven_by": fitted_on})
        episodes += load_dataset(data)
        fitted_on = [*fitted_on, json.loads(data.with_suffix(".json").read_text())["sha256"]]
    summary = {**meta, "spec": spec.__dict__ | {"channels": list(spec.channels)}, "rounds": history}
    save_model(model, out / "student.pt")
    atomic.write_text(out / "training.json", json.dumps(summary, indent=1, default=float))
    return {"model": model, "spec": spec, "summary": summary, "out": out}


ROUND_FIGURES = ("round", "windows", "final_loss")
"""What training.json and the bundle's manifest keep of each round."""


def _made_from(path: Path, **origin) -> bool:
    """Whether the artefact at ``path`` records exactly this origin in its .json (written after the artefact)."""
    record = path.with_suffix(".json")
    return record.is_file() and all(json.loads(record.read_text()).get(k) == v for k, v in origin.items())


def save_model(model: torch.nn.Module, path: Path) -> None:
    with atomic.atomic_file(path) as tmp:
        torch.save(model.state_dict(), tmp)


def load_trained(config: DistillConfig) -> dict:
    """What :func:`train_stage` returned, from its files."""
    out = output_dir(config)
    if not (out / "training.json").is_file():  # written after student.pt
        raise FileNotFoundError(f"{out / 'student.pt'}: run 'hipexo distill train' first")
    summary = json.loads((out / "training.json").read_text())
    s = summary["spec"]
    spec = FeatureSpec(tuple(s["channels"]), s["window"], s["rate_hz"], tuple(s["mean"]), tuple(s["std"]))
    model = build_student(config.student, spec)
    model.load_state_dict(torch.load(out / "student.pt"))
    return {"model": model, "spec": spec, "summary": summary, "out": out}


def distil(config: DistillConfig, progress: bool = True, executor: Executor | None = None) -> dict:
    """collect → train with DAgger; resumes whatever stage an earlier run finished."""
    collect_stage(config, progress, executor)
    return train_stage(config, progress, executor)


def datasets(out: Path) -> list[Episode]:
    return [e for path in sorted((out / "data").glob("round_*.npz")) for e in load_dataset(path)]
