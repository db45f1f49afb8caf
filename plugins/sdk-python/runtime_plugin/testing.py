"""Run a plugin class with plain CPython, outside the sandbox, for unit tests.

Inside the component the SDK talks to the host through bindings that
componentize-py generates; these helpers stand in for the host instead, the
way the host would call the plugin: a reader reads one split holding all of
`data`, a transform gets one batch. Every batch a plugin produces goes
through the SDK's Arrow IPC encoder and decoder against the declared schema,
as it would on its way to the host, so a value of the wrong type fails here
as it would in a run.

    from runtime_plugin import testing
    rows, rejects = testing.read(MyReader, {"option": 1}, b"line 1\\nline 2\\n")
    rows = testing.transform(MyTransform, {}, schema, [{"id": 1}])
"""

from . import arrow
from .reader import Input, InputFile, Split, _Partial
from .transform import SINGLE


class _Bytes:
    """The host's input handle, over bytes in memory."""

    def __init__(self, data):
        self.data = bytes(data)

    def size(self):
        return len(self.data)

    def read(self, offset, length):
        return self.data[offset:offset + length]


def _crossed(batch):
    """`batch` after the trip to the host: encoded and decoded as IPC."""
    return arrow.decode_batch(arrow.encode_batch(batch)).to_rows() if batch.num_rows else []


def read(cls, options, data, path="input", output=None):
    """Runs reader class `cls` with `options` on one split holding all of
    `data` (bytes) from a file named `path`. Returns `(rows, rejects)`: the
    rows of `output` (default: the reader's first output) as dicts, and the
    rejects as `(location, reason)` pairs. A `partial(...)` return is
    reported as a final reject `("partial", reason)`."""
    reader = cls(options)
    rejects = []
    reader.reject = lambda location, reason: rejects.append((str(location), str(reason)))
    schemas = dict(reader.discover([InputFile(path, len(data))], [Input(_Bytes(data))]))
    output = output or next(iter(schemas))
    rows = {name: [] for name in schemas}
    split = Split(path, 0, 0, len(data))

    def add(item):
        name = output
        if isinstance(item, tuple):
            name, item = item
        if name not in schemas:
            raise AssertionError("emitted to unknown output `%s` (declared: %s)" % (name, ", ".join(schemas)))
        schema = schemas[name]
        if isinstance(item, arrow.Batch):
            batch = arrow.Batch(schema, [item.column(f.name) for f in schema.fields], item.num_rows)
        elif isinstance(item, dict) and item and all(isinstance(v, list) for v in item.values()):
            batch = arrow.Batch(schema, [item.get(f.name, [None] * len(next(iter(item.values()))))
                                         for f in schema.fields])
        else:
            batch = arrow.Batch.from_rows(schema, [item])
        rows[name].extend(_crossed(batch))

    result = reader.read(split, InputFile(path, len(data)), Input(_Bytes(data)))
    if isinstance(result, _Partial):
        rejects.append(("partial", result.reason))
    elif result is not None:
        generator = iter(result)
        while True:
            try:
                add(next(generator))
            except StopIteration as stop:
                if isinstance(stop.value, _Partial):
                    rejects.append(("partial", stop.value.reason))
                break
    return rows[output], rejects


def transform(cls, options, schema, rows, side_tables=None):
    """Runs transform class `cls` with `options` on one batch of `rows` (dicts)
    of `schema`, as the host would: only the columns `input_columns` names go
    in, output columns a returned batch lacks are taken from the input.
    Returns the output rows as dicts."""
    instance = cls(options, side_tables or {})
    out_schema = instance.output_schema(schema)
    batch = arrow.Batch.from_rows(schema, rows)
    names = instance.input_columns(schema)
    sent = batch if names is None else batch.select(list(names))
    transformer = instance.open(sent.schema, SINGLE)
    produced = []
    for out in (transformer.process(sent), transformer.finish()):
        if out is None:
            continue
        produced.extend([out] if isinstance(out, arrow.Batch) else out)
    result = []
    for b in produced:
        columns = []
        for f in out_schema.fields:
            if f.name in b.schema.names:
                columns.append(b.column(f.name))
            elif f.name in schema.names and b.num_rows == batch.num_rows:
                columns.append(batch.column(f.name))
            else:
                raise AssertionError("the transform returned no column `%s` and cannot take it from the input"
                                     % f.name)
        result.extend(_crossed(arrow.Batch(out_schema, columns, b.num_rows)))
    return result
