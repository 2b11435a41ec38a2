"""The error of a bad configuration value: it stops start-up with a message naming the variable."""

from __future__ import annotations


class ConfigError(ValueError):
    pass
