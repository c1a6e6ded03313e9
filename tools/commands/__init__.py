"""Sub-commands of ``hipexo``; add a module here and to :data:`COMMAND_MODULES`."""

from tools.commands import config, sim

COMMAND_MODULES = [config, sim]
