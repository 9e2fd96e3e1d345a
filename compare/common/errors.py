"""The project's error types.

Each carries the exit status the CLI returns for it; its message is one line
that names the problem and the way out.
"""


class TwinpropError(Exception):
    """Base of every error the CLI reports as one line instead of a traceback."""

    exit_code = 2


class DataError(TwinpropError):
    """A data file or data source is missing, malformed or fails its checksum."""

    exit_code = 2


class ConfigError(TwinpropError):
    """An option or configuration value is out of range or unknown."""

    exit_code = 2


class DivergenceError(TwinpropError):
    """Training produced a NaN or infinite loss."""

    exit_code = 1
