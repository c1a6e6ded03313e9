"""The device runtime: the 100 Hz student loop over serial with its safety state machine and trial log."""
