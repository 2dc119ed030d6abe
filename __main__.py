"""octavia-infra: settings -> OctaviaFoundation -> stack outputs."""

import gc

import pulumi
from pulumi.runtime import config as runtime_config

from config.errors import ConfigError
from components.foundation import OctaviaFoundation
from components.identity import look_up_identities
from components.network import read_compute_zones, read_subnet
from render.outputs import OUTPUT_NAMES
from config.settings import decode_config, parse_settings


def project_config() -> dict[str, str]:
    """Every config value of this project's namespace, unknown keys included (typo detection)."""
    namespace = f"{pulumi.get_project()}:"
    merged = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    return {key[len(namespace) :]: value for key, value in merged.items() if key.startswith(namespace)}


try:
    settings = parse_settings(
        decode_config(project_config()), read_subnet=read_subnet, read_compute_zones=read_compute_zones
    )
    identities = look_up_identities(settings)
except ConfigError as err:
    raise pulumi.RunError(str(err)) from None

foundation = OctaviaFoundation("octavia", settings, identities)
for output_name in OUTPUT_NAMES:
    pulumi.export(output_name, foundation.outputs[output_name])

# The objects made so far live until the program ends: keep them out of the interpreter's final
# collection, which would otherwise walk them all at exit (0.1-0.2 s of every run).
gc.freeze()
