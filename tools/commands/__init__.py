"""Sub-commands of ``hipexo``; add a module here and to :data:`COMMAND_MODULES`."""

from tools.commands import config, sim, teacher

COMMAND_MODULES = [config, sim, teacher]
