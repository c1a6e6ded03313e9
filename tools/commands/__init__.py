"""Sub-commands of ``hipexo``; add a module here and to :data:`COMMAND_MODULES`."""

from tools.commands import bench, bundle, config, demo, device, distill, keys, run, sim, teacher, trial

COMMAND_MODULES = [config, sim, teacher, distill, keys, bundle, device, run, trial, bench, demo]
