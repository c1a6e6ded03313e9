"""Musculoskeletal simulation and the privileged teacher policy (needs the ``train`` extra)."""
