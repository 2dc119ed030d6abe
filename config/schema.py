"""The project's config schema: Pulumi.yaml's `config` section, the one place every knob is declared."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Optional

import yaml

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "Pulumi.yaml"


@dataclass(frozen=True)
class ConfigKey:
    name: str
    type: str
    default: Any  # None: required (Pulumi refuses a stack that does not set it)
    description: str
    item_type: Optional[str] = None


@functools.lru_cache(maxsize=None)
def load_schema(path: Path = SCHEMA_PATH) -> Mapping[str, ConfigKey]:
    """The project config schema of Pulumi.yaml, keyed by config key."""
    # libyaml's loader parses Pulumi.yaml in a tenth of the pure-Python loader's time (every run pays it).
    declared = yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))["config"]
    return {
        name: ConfigKey(
            name,
            spec["type"],
            spec.get("default"),
            spec.get("description", ""),
            (spec.get("items") or {}).get("type"),
        )
        for name, spec in declared.items()
    }

