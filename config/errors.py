"""The one error type for bad configuration, raised before any resource is declared."""


class ConfigError(ValueError):
    """A config value that cannot be used: names the key, the value and what is valid."""

    def __init__(self, key: str, value: object, valid: str):
        self.key, self.value, self.valid = key, value, valid
        super().__init__(f"config {key}={value!r}: {valid}")
