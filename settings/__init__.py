"""The one settings model of icc-ollama, split by section (one module each).

Layering: nothing here imports `components`; components and `__main__` import from here.
`load_settings` / `parse_settings` are the entry points (`parse_cli_config` for scripts);
`Settings` is the validated result.
"""

from settings.load import (
    PROJECT,
    SECRET_KEYS,
    SettingsError,
    load_settings,
    parse_cli_config,
    parse_settings,
)
from settings.stack import Settings

__all__ = [
    "PROJECT",
    "SECRET_KEYS",
    "Settings",
    "SettingsError",
    "load_settings",
    "parse_cli_config",
    "parse_settings",
]
