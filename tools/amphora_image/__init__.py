"""Amphora image builds: `python -m tools.amphora_image --help` (or `make amphora-image`)."""
