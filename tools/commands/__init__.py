"""Sub-commands of ``hipexo``; add a module here and to :data:`COMMAND_MODULES`."""

from tools.commands import bench, config, distill, run, sim, teacher, trial

COMMAND_MODULES = [config, sim, teacher, distill, run, trial, bench]
