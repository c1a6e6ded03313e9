"""Typed YAML configuration with validation errors that name the file, the field and the problem.

A config section is a frozen dataclass. Each field's type comes from its annotation; range checks come
from ``field(metadata=...)`` built with :func:`spec`. :func:`build` walks a parsed YAML mapping into
such a dataclass and collects *every* problem before raising one :class:`ConfigError`, so a user fixes
a broken file in one pass.

Each YAML file under ``configs/`` starts with ``kind: <name>``; packages register their kinds with
:func:`register_kind` (firmware_bridge registers subject, device and runtime; the training packages add
theirs), and :func:`load_config` picks the schema from that key.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")

Check = Callable[[Any], "str | None"]


class ConfigError(ValueError):
    """One or more problems in a configuration file; ``problems`` lists them as 'field: message'."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"{source}: invalid configuration\n{lines}")


def spec(
    default: Any = dataclasses.MISSING,
    *,
    gt: float | None = None,
    ge: float | None = None,
    lt: float | None = None,
    le: float | None = None,
    choices: tuple[Any, ...] | None = None,
    length: int | None = None,
    doc: str = "",
) -> Any:
    """A dataclass field with range/choice/length checks that :func:`build` enforces."""
    checks: list[Check] = []
    if gt is not None:
        checks.append(lambda v, b=gt: None if v > b else f"must be > {b}")
    if ge is not None:
        checks.append(lambda v, b=ge: None if v >= b else f"must be >= {b}")
    if lt is not None:
        checks.append(lambda v, b=lt: None if v < b else f"must be < {b}")
    if le is not None:
        checks.append(lambda v, b=le: None if v <= b else f"must be <= {b}")
    if choices is not None:
        checks.append(lambda v, c=choices: None if v in c else f"must be one of {list(c)}")
    if length is not None:
        checks.append(lambda v, n=length: None if len(v) == n else f"must have exactly {n} items")
    metadata = {"checks": checks, "doc": doc}
    if isinstance(default, (list, dict)):
        return dataclasses.field(default_factory=lambda d=default: type(d)(d), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _convert(tp: Any, value: Any, where: str, problems: list[str]) -> Any:
    """Convert ``value`` to annotation ``tp``; append a problem and return None when it does not fit."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _convert(inner[0], value, where, problems)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, Mapping):
            problems.append(f"{where}: expected a mapping, got {_describe(value)}")
            return None
        return _build(tp, value, where, problems)
    if origin in (list, tuple):
        if not isinstance(value, list):
            problems.append(f"{where}: expected a list, got {_describe(value)}")
            return None
        item_tp = args[0] if args else Any
        items = [_convert(item_tp, v, f"{where}[{i}]", problems) for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, Mapping):
            problems.append(f"{where}: expected a mapping, got {_describe(value)}")
            return None
        key_tp, val_tp = args
        return {
            _convert(key_tp, k, f"{where}", problems): _convert(val_tp, v, f"{where}.{k}", problems)
            for k, v in value.items()
        }
    if tp is Any:
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            problems.append(f"{where}: expected a number, got {_describe(value)}")
            return None
        if value != value or value in (float("inf"), float("-inf")):
            problems.append(f"{where}: must be a finite number, got {value}")
            return None
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append(f"{where}: expected an integer, got {_describe(value)}")
            return None
        return value
    if tp is bool:
        if not isinstance(value, bool):
            problems.append(f"{where}: expected true or false, got {_describe(value)}")
            return None
        return value
    if tp is str:
        if not isinstance(value, str):
            problems.append(f"{where}: expected text, got {_describe(value)}")
            return None
        return value
    raise TypeError(f"unsupported config annotation {tp!r} at {where}")


def _build(cls: type[T], data: Mapping[str, Any], where: str, problems: list[str]) -> T | None:
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    prefix = f"{where}." if where else ""
    for key in data:
        if key not in fields:
            close = difflib.get_close_matches(str(key), list(fields), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            problems.append(f"{prefix}{key}: unknown field{hint}")
    values: dict[str, Any] = {}
    before = len(problems)
    for name, f in fields.items():
        path = f"{prefix}{name}"
        if name not in data:
            no_default = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
            if no_default:
                problems.append(f"{path}: required field is missing")
            continue
        value = _convert(hints[name], data[name], path, problems)
        if value is None and data[name] is not None:
            continue
        for check in f.metadata.get("checks", []):
            if value is None:
                break
            message = check(value)
            if message:
                problems.append(f"{path}: {message} (got {_describe(data[name])})")
        values[name] = value
    if len(problems) > before:
        return None
    obj = cls(**values)
    validate = getattr(obj, "validate", None)
    if validate is not None:
        problems.extend(f"{prefix}{p}" for p in validate())
    return obj


def build(cls: type[T], data: Any, source: str = "<config>", where: str = "") -> T:
    """Build dataclass ``cls`` from parsed YAML, raising :class:`ConfigError` listing every problem."""
    problems: list[str] = []
    if not isinstance(data, Mapping):
        raise ConfigError(source, [f"{where or 'top level'}: expected a mapping, got {_describe(data)}"])
    obj = _build(cls, data, where, problems)
    if problems or obj is None:
        raise ConfigError(source, problems)
    return obj


_KINDS: dict[str, type] = {}


def register_kind(kind: str, cls: type) -> None:
    """Make ``kind: <kind>`` files load as ``cls``."""
    _KINDS[kind] = cls


def known_kinds() -> list[str]:
    return sorted(_KINDS)


def kind_of(config: Any) -> str:
    """The ``kind`` name under which ``config``'s class is registered."""
    return next(kind for kind, cls in _KINDS.items() if isinstance(config, cls))


def read_yaml(path: str | Path) -> Any:
    """Parse a YAML file, turning I/O and syntax errors into a :class:`ConfigError` naming the file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read file: {exc.strerror or exc}"]) from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(str(path), [f"YAML syntax error{at}: {problem}"]) from exc


def load_config(path: str | Path, expected: type[T] | None = None) -> T:
    """Load a ``kind:``-tagged YAML file into its registered dataclass (optionally checking the kind).

    ``extends: OTHER.yaml`` (relative to the file) starts from another file of the same kind and
    deep-merges this file's values over it, so a variant states only what differs.
    """
    source = str(path)
    data = _read_with_bases(Path(path), [])
    kind = data.get("kind")
    if kind not in _KINDS:
        raise ConfigError(source, [f"kind: must be one of {known_kinds()} (got {_describe(kind)})"])
    cls = _KINDS[kind]
    if expected is not None and cls is not expected:
        wanted = [k for k, c in _KINDS.items() if c is expected]
        raise ConfigError(source, [f"kind: expected {wanted[0] if wanted else expected.__name__!r}, got {kind!r}"])
    body = {k: v for k, v in data.items() if k != "kind"}
    return build(cls, body, source)


def self_contained_text(path: str | Path) -> str:
    """The file's text, or, when it ``extends:`` another, the merged YAML it stands for (what a trial log
    records, so that the config reads back without the files it was layered on)."""
    text = Path(path).read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    if not isinstance(data, Mapping) or "extends" not in data:
        return text
    merged = _read_with_bases(Path(path), [])
    return f"# {path}, merged with the file(s) it extends\n" + yaml.safe_dump(merged, sort_keys=False)


def _read_with_bases(path: Path, chain: list[Path]) -> dict[str, Any]:
    source = str(path)
    data = read_yaml(path)
    if not isinstance(data, Mapping):
        raise ConfigError(source, [f"top level: expected a mapping with a 'kind' field, got {_describe(data)}"])
    base_name = data.get("extends")
    data = {k: v for k, v in data.items() if k != "extends"}
    if base_name is None:
        return data
    if not isinstance(base_name, str):
        raise ConfigError(source, [f"extends: expected a file name, got {_describe(base_name)}"])
    base_path = (path.parent / base_name).resolve()
    if base_path in chain:
        raise ConfigError(source, [f"extends: {base_name} leads back to itself"])
    if not base_path.is_file():
        raise ConfigError(source, [f"extends: no such file {base_path}"])
    base = _read_with_bases(base_path, [*chain, path.resolve()])
    if base.get("kind") != data.get("kind"):
        raise ConfigError(
            source, [f"extends: {base_name} is kind {base.get('kind')!r}, this file {data.get('kind')!r}"]
        )
    return _deep_merge(base, data)


def _deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged
