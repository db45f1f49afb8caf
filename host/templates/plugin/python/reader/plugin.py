"""{{name}}: reads `key = value` lines into rows of (source_path, key, value).

Blank lines and lines starting with `#` are skipped; a line without the
separator is rejected (reported with its line number) and the split goes on.

This is the starting point `runtime new-plugin` wrote: edit `read` (and
SCHEMA) for your format. The lifecycle of a reader, in the order the host
calls it:

1. `describe` - static facts, also shown by `runtime plugins inspect`.
2. `__init__` - once per sandbox instance (one per worker), with the stage's
   `options` table as a dict.
3. `output_schemas` - the schema of every output.
4. `read` - once per split, a generator that yields rows (dicts). With
   `Planning.delimited(10)` the host cuts big files at newlines into byte
   ranges, so several workers read one file at once and `input` holds only
   this split's lines.

The plugin runs inside the sandbox: it sees only the bytes it is handed and
cannot open files or the network. `runtime_plugin.arrow` is the SDK's own
pure-Python Arrow (pyarrow cannot run there).
"""

import runtime_plugin as rp
from runtime_plugin import arrow

SCHEMA = arrow.Schema([
    arrow.Field("source_path", arrow.utf8, nullable=False),
    arrow.Field("key", arrow.utf8, nullable=False),
    arrow.Field("value", arrow.utf8, nullable=False),
])


def parse(line, separator):
    """(key, value), None for a line to skip; raises ValueError for a bad line."""
    line = line.strip()
    if not line or line.startswith("#"):
        return None
    key, found, value = line.partition(separator)
    if not found:
        raise ValueError("no separator in the line")
    if not key.strip():
        raise ValueError("no key before the separator")
    return key.strip(), value.strip()


class Plugin(rp.Reader):
    """Reads `key = value` lines, one row per line"""

    @classmethod
    def describe(cls):
        return rp.PluginInfo("{{name}}", "0.1.0", cls.__doc__, outputs=["rows"],
                             options=[rp.Option("separator", "string", "Between key and value", default='"="')],
                             planning=rp.Planning.delimited(10))

    def __init__(self, options):
        rp.check_options(options, ("separator",))
        self.separator = options.get("separator", "=")
        if not isinstance(self.separator, str) or not self.separator:
            raise rp.InvalidOptions("separator: must be a non-empty string")

    def output_schemas(self):
        return {"rows": SCHEMA}

    def read(self, split, file, input):
        path = file.path if file else split.id
        for number, raw in input.lines():
            try:
                pair = parse(raw.decode("utf-8"), self.separator)
            except (UnicodeDecodeError, ValueError) as e:
                # "line N" counts from the start of this split; the host turns
                # it into the line number in the file.
                self.reject("line %d" % number, str(e) if isinstance(e, ValueError) else "not UTF-8 text")
                continue
            if pair is not None:
                yield {"source_path": path, "key": pair[0], "value": pair[1]}
