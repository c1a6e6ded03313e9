"""What benchmark scripts share: ``--quick``, the headline JSON line, and one way to save a matplotlib figure.

The rule: every benchmark has a quick mode (``--quick``: the same measurement, smaller, ≤ 60 s on 2 cores)
and, in both modes, prints its headline figures as one JSON object on the last line of stdout.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path


def parse_args(parser: argparse.ArgumentParser, **quick) -> argparse.Namespace:
    """``parser``'s arguments plus ``--quick``, which swaps in the ``quick`` defaults (explicit flags still win)."""
    parser.add_argument("--quick", action="store_true", help="the same measurement, smaller: ≤ 60 s on 2 cores")
    args = parser.parse_args()
    if args.quick:
        parser.set_defaults(**quick)
        args = parser.parse_args()
    return args


def print_headline(figures: dict, quick: bool) -> None:
    """The headline figures as one flat JSON object, the last line of stdout (4 significant digits, NaN → null)."""

    def plain(value):
        value = value.item() if hasattr(value, "item") else value  # numpy scalars
        if isinstance(value, float):
            return float(f"{value:.4g}") if math.isfinite(value) else None
        return value

    print(json.dumps({"quick": quick} | {key: plain(value) for key, value in figures.items()}), flush=True)


def save_figure(fig, path: Path) -> None:
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
