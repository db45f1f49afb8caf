"""Conversions between the SDK's objects and the generated WIT bindings.

Imported only inside a component (componentize-py generates `wit_world`)."""

import json

from componentize_py_types import Err
from wit_world.imports import types as t

from . import errors

_KINDS = {
    "invalid-options": t.ErrorKind.INVALID_OPTIONS, "invalid-input": t.ErrorKind.INVALID_INPUT,
    "unsupported": t.ErrorKind.UNSUPPORTED, "io": t.ErrorKind.IO, "internal": t.ErrorKind.INTERNAL,
}


def err(exc):
    kind, message, retryable = errors.describe(exc)
    return Err(t.PluginError(_KINDS[kind], message, retryable))


def guard(f):
    """Runs f; any exception becomes the WIT error (Err) componentize-py expects."""
    def wrapped(*args):
        try:
            return f(*args)
        except Err:
            raise
        except BaseException as exc:  # noqa: B902 - every failure is reported
            raise err(exc)
    return wrapped


def options(text):
    try:
        value = json.loads(text) if text else {}
    except ValueError as e:
        raise errors.InvalidOptions("options are not JSON: %s" % e)
    if not isinstance(value, dict):
        raise errors.InvalidOptions("options must be a table")
    return value


def info(i, kind):
    planning = {
        "whole-file": lambda: t.Planning_WholeFile(),
        "delimited": lambda: t.Planning_Delimited(i.planning.delimiter),
        "plugin": lambda: t.Planning_Plugin(),
    }[i.planning.kind]()
    opts = [t.OptionSpec(o.name, o.type_name, o.default, o.required, o.description) for o in i.options]
    caps = [t.CapabilityRequest(t.CapabilityKind.NETWORK if k == "network" else t.CapabilityKind.ENVIRONMENT, r)
            for k, r in i.capabilities]
    pk = t.PluginKind.READER if kind == "reader" else t.PluginKind.TRANSFORM
    return t.PluginInfo(i.name, i.version, pk, i.description, opts, i.outputs, planning, i.mergeable, caps)
