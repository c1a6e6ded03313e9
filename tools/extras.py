"""Which optional extra (pyproject's ``[project.optional-dependencies]``) provides a missing module.

Read from the installed package's metadata, so the extras are named in one place: a device-only install
(``pip install hipexo``) asked to train gets one line saying ``pip install 'hipexo[train]'``.
"""

from __future__ import annotations

import re
from importlib import metadata

_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9._-]+)[^;]*;\s*extra\s*==\s*['\"]([^'\"]+)['\"]")


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def extra_providing(module: str) -> str | None:
    """The extra whose requirements include the distribution of ``module`` (its top-level name), if any."""
    try:
        requirements = metadata.requires("hipexo") or []
    except metadata.PackageNotFoundError:
        return None
    wanted = _normalise(module.split(".")[0])
    for line in requirements:
        match = _REQUIREMENT.match(line)
        if match and _normalise(match[1]) == wanted and match[2] != "dev":
            return match[2]
    return None
