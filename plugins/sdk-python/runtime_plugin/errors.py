"""Typed plugin errors: raise one and the host gets a `plugin-error` of that kind.

Any other exception escaping a plugin becomes an `internal` error naming the
exception type and where it was raised, so a bug reads like a Rust panic.
"""

import traceback


class PluginError(Exception):
    """A failure the plugin reports. `kind` is a WIT `error-kind` name."""

    kind = "internal"

    def __init__(self, message, retryable=False):
        super().__init__(message)
        self.message = str(message)
        self.retryable = retryable


class InvalidOptions(PluginError):
    """The options in pipeline.toml are wrong."""
    kind = "invalid-options"


class InvalidInput(PluginError):
    """The input is malformed or damaged."""
    kind = "invalid-input"


class Unsupported(PluginError):
    """The input uses a feature the plugin does not handle."""
    kind = "unsupported"


class IoError(PluginError):
    """Reading input or talking to a service failed (often worth a retry)."""
    kind = "io"


class Internal(PluginError):
    """A bug or broken invariant in the plugin."""
    kind = "internal"


def describe(exc):
    """(kind, message, retryable) for any exception."""
    if isinstance(exc, PluginError):
        return exc.kind, exc.message, exc.retryable
    frames = traceback.extract_tb(exc.__traceback__)
    where = ""
    if frames:
        last = frames[-1]
        where = " at %s:%d" % (last.filename.rsplit("/", 1)[-1], last.lineno)
    text = str(exc)
    return "internal", "plugin raised %s%s%s" % (type(exc).__name__, where, ": " + text if text else ""), False
