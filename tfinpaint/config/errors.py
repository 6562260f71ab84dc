"""The configuration's error type."""


class ConfigError(ValueError):
    """A preset, key or value that the configuration does not accept."""
