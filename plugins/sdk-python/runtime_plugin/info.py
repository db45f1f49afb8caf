"""What a plugin says about itself (`describe`): mirrors the WIT `plugin-info`."""


class Option:
    """One option the plugin accepts, for `runtime plugins inspect`."""

    def __init__(self, name, type_name, description, default=None, required=False):
        self.name, self.type_name, self.description = name, type_name, description
        self.default, self.required = default, required


class Planning:
    """How a reader's inputs become splits."""

    def __init__(self, kind, delimiter=None):
        self.kind, self.delimiter = kind, delimiter

    @classmethod
    def whole_file(cls):
        return cls("whole-file")

    @classmethod
    def delimited(cls, byte=10):
        """Files may be cut into byte ranges ending after `byte` (10: lines)."""
        return cls("delimited", byte)

    @classmethod
    def plugin(cls):
        return cls("plugin")


class PluginInfo:
    def __init__(self, name, version, description, options=(), outputs=(), planning=None,
                 mergeable=False, capabilities=()):
        self.name, self.version, self.description = name, version, description
        self.options, self.outputs = list(options), list(outputs)
        self.planning = planning or Planning.whole_file()
        self.mergeable = mergeable
        # [(kind, reason)] with kind "network" or "environment"
        self.capabilities = list(capabilities)


def check_options(options, allowed):
    """Raises InvalidOptions for a key of `options` not in `allowed`."""
    from .errors import InvalidOptions
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise InvalidOptions("unknown option%s %s (expected: %s)" % (
            "s" if len(unknown) > 1 else "", ", ".join("`%s`" % k for k in unknown),
            ", ".join(sorted(allowed)) or "none"))
