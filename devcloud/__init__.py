"""The devcloud: a local OpenStack control plane for the quick start, integration tests and CI.

ensure_devcloud() starts it (idempotent) and returns the environment that selects it.
"""

from .devcloud import CLOUDS_YAML, ensure_devcloud

__all__ = ["CLOUDS_YAML", "ensure_devcloud"]
