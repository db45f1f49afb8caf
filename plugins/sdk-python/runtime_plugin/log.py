"""The run's log and progress counters (the WIT `log` import)."""


def _imp():
    from wit_world.imports import log
    return log


def _log(level, message):
    log = _imp()
    log.log(getattr(log.Level, level), str(message))


def trace(message): _log("TRACE", message)
def debug(message): _log("DEBUG", message)
def info(message): _log("INFO", message)
def warn(message): _log("WARN", message)
def error(message): _log("ERROR", message)


def progress(counter, delta=1):
    """Adds `delta` to the named progress counter of the current split."""
    _imp().progress(counter, delta)
