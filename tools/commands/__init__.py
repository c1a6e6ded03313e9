"""Sub-commands of ``hipexo``; add a module here and to :data:`COMMAND_MODULES`."""

from tools.commands import bench, bundle, calibrate, config, demo, device, distill, keys, run, sim, teacher, trial

COMMAND_MODULES = [config, sim, teacher, distill, keys, bundle, device, run, calibrate, trial, bench, demo]
