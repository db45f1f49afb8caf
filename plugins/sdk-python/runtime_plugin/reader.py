"""Readers: subclass `Reader`, then `export_reader(MyReader)`.

`read` is a generator run once per split. It yields what the split holds:

- a dict of column name -> value: one row;
- a dict of column name -> list: a block of rows (all lists of one length);
- an `arrow.Batch`;
- any of these as `(output, item)` for readers with several outputs.

Rows are gathered and emitted `batch_rows` at a time to the first output
(or the named one). Returning `partial("reason")` keeps what was emitted and
reports the split as partial; raising a `PluginError` fails the split (the
host then discards what it emitted). `self.reject(location, reason)` reports
a skipped record.
"""

from . import arrow
from .info import PluginInfo


class InputFile:
    """An input file as the pipeline names it (the plugin cannot open it)."""

    def __init__(self, path, size):
        self.path, self.size = path, size


class Split:
    """A unit of work: the byte range `offset`, `length` of input `input`."""

    def __init__(self, id, input, offset, length, payload="", size_hint=0):
        self.id, self.input, self.offset, self.length = id, input, offset, length
        self.payload, self.size_hint = payload, size_hint


class Input:
    """A read-only view of one input file or byte range (offsets relative to it)."""

    CHUNK = 1 << 20

    def __init__(self, handle):
        self._h = handle
        self.size = handle.size()

    def read(self, offset, length):
        """Up to `length` bytes at `offset` (fewer only at the end of the view)."""
        out = []
        length = max(0, min(length, self.size - offset))
        got = 0
        while got < length:
            chunk = self._h.read(offset + got, min(length - got, 16 << 20))
            if not chunk:
                break
            out.append(chunk)
            got += len(chunk)
        return b"".join(out)

    def read_all(self):
        return self.read(0, self.size)

    def lines(self):
        """(line number from 1, bytes without the newline) of every line of the view."""
        rest, at, number = b"", 0, 0
        while at < self.size:
            chunk = self.read(at, self.CHUNK)
            at += len(chunk)
            parts = (rest + chunk).split(b"\n")
            rest = parts.pop()
            for p in parts:
                number += 1
                yield number, p
        if rest:
            yield number + 1, rest


class _Partial:
    def __init__(self, reason):
        self.reason = reason


def partial(reason):
    """Return this from `read` when the input was damaged part-way."""
    return _Partial(reason)


class Reader:
    """Subclass and override `describe`, `__init__`, `output_schemas`, `read`."""

    batch_rows = 8192

    @classmethod
    def describe(cls):
        return PluginInfo(cls.__name__.lower(), "0.1.0", cls.__doc__ or "", outputs=["rows"])

    def __init__(self, options):
        self.options = options

    def output_schemas(self):
        """{output name: arrow.Schema}, for readers with a fixed schema."""
        raise NotImplementedError("output_schemas")

    def discover(self, files, inputs):
        """Schemas that depend on the inputs (views of the whole files)."""
        return self.output_schemas()

    def configure(self, outputs):
        """The exact schemas to emit ({name: Schema}); the SDK drops unneeded
        columns itself, so most readers ignore this."""

    def read(self, split, file, input):
        raise NotImplementedError("read")

    def reject(self, location, reason):
        from wit_world.imports import io
        io.reject(str(location), str(reason))


class _Sink:
    """Gathers rows per output and emits them as batches of the configured schema."""

    def __init__(self, schemas, batch_rows):
        self.schemas, self.batch_rows = schemas, batch_rows
        self.default = next(iter(schemas), None)
        self.rows = {}

    def schema(self, output):
        from .errors import Internal
        if output not in self.schemas:
            raise Internal("emitted to unknown output `%s` (declared: %s)" % (output, ", ".join(self.schemas)))
        return self.schemas[output]

    def add(self, item):
        output = self.default
        if isinstance(item, tuple):
            output, item = item
        schema = self.schema(output)
        if isinstance(item, arrow.Batch):
            self.flush(output)
            self.emit(output, _project(item, schema))
        elif isinstance(item, dict) and item and all(isinstance(v, list) for v in item.values()):
            self.flush(output)
            n = len(next(iter(item.values())))
            self.emit(output, arrow.Batch(schema, [item.get(f.name, [None] * n) for f in schema.fields], n))
        elif isinstance(item, dict):
            rows = self.rows.setdefault(output, [])
            rows.append(item)
            if len(rows) >= self.batch_rows:
                self.flush(output)
        else:
            from .errors import Internal
            raise Internal("read yielded %s; expected a row dict, a column dict or a Batch" % type(item).__name__)

    def flush(self, output=None):
        for name in [output] if output else list(self.rows):
            rows = self.rows.pop(name, None)
            if rows:
                self.emit(name, arrow.Batch.from_rows(self.schemas[name], rows))

    def emit(self, output, batch):
        from wit_world.imports import io
        io.emit(output, arrow.encode_batch(batch))


def _project(batch, schema):
    if batch.schema.names == schema.names:
        return batch
    return arrow.Batch(schema, [batch.column(f.name) for f in schema.fields], batch.num_rows)


def export_reader(cls):
    """The class componentize-py exports: in your app module write
    `Reader = export_reader(MyReader)`."""
    from wit_world import exports
    from wit_world.imports import types as t

    from . import _wit

    state = {}

    def instance():
        if "r" not in state:
            from .errors import Internal
            raise Internal("reader used before init")
        return state["r"]

    def named(schemas):
        return [t.NamedSchema(n, arrow.encode_schema(s)) for n, s in dict(schemas).items()]

    class Export(exports.Reader):
        def describe(self):
            return _wit.info(cls.describe(), "reader")

        @_wit.guard
        def init(self, options):
            state["r"] = cls(_wit.options(options))

        @_wit.guard
        def discover(self, files, inputs):
            files = [InputFile(f.path, f.size) for f in files]
            return named(instance().discover(files, [Input(i) for i in inputs]))

        @_wit.guard
        def configure(self, outputs):
            schemas = {o.name: arrow.decode_schema(o.schema) for o in outputs}
            instance().configure(schemas)
            state["schemas"] = schemas

        @_wit.guard
        def plan(self, files, inputs, hints):
            from .errors import Unsupported
            r = instance()
            if not hasattr(r, "plan"):
                raise Unsupported("this reader does not plan its own splits")
            files = [InputFile(f.path, f.size) for f in files]
            splits = r.plan(files, [Input(i) for i in inputs], hints)
            return [t.Split(s.id, s.input, s.offset, s.length, s.payload, s.size_hint) for s in splits]

        @_wit.guard
        def read(self, split, file, input):
            r = instance()
            schemas = state.get("schemas") or dict(r.output_schemas())
            sink = _Sink(schemas, r.batch_rows)
            s = Split(split.id, split.input, split.offset, split.length, split.payload, split.size_hint)
            f = InputFile(file.path, file.size) if file is not None else None
            gen = r.read(s, f, Input(input) if input is not None else None)
            outcome = None
            if gen is not None and hasattr(gen, "__next__"):
                while True:
                    try:
                        item = next(gen)
                    except StopIteration as stop:
                        outcome = stop.value
                        break
                    sink.add(item)
            else:
                outcome = gen
            sink.flush()
            return t.ReadOutcome(outcome.reason if isinstance(outcome, _Partial) else None)

    Export.__name__ = "Reader"
    return Export
