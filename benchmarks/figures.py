"""Where benchmark scripts put their figures: one way to lay out and save a matplotlib figure."""

from __future__ import annotations

from pathlib import Path


def save_figure(fig, path: Path) -> None:
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
