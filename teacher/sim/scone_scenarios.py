"""Write the per-slope ``.scone`` scenarios the SCONE backend loads (sconepy cannot change slope at run time)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from teacher.sim.scone_backend import scenario_file

TEMPLATE = "hip_exo.scone.template"
WALKWAY_TILES = 30


def write_slope_scenarios(out_dir: Path, model_file: Path, state_init_file: Path, slopes=range(-10, 11)) -> list[Path]:
    template = files("teacher.sim.scone").joinpath(TEMPLATE).read_text()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for slope in slopes:
        text = (
            template.replace("{slope_deg:+d}", f"{slope:+d}")
            .replace("{model_file}", str(Path(model_file).resolve()))
            .replace("{state_init_file}", str(Path(state_init_file).resolve()))
            .replace("{slopes}", " ".join([str(slope)] * WALKWAY_TILES))
        )
        path = scenario_file(out_dir, slope)
        path.write_text(text)
        written.append(path)
    return written
