"""Transforms: subclass `Transform`, then `export_transform(MyTransform)`.

A transform instance is built once per sandbox instance with its options
(a dict) and side tables; the host then opens one transformer per split.
The default transformer calls `Transform.process(batch)` for every batch:
enough for row-wise maps and filters. Aggregations override `open` and
return a `Transformer` with `process`, `merge` and `finish`.
"""

from . import arrow
from .info import PluginInfo

SINGLE, PARTIAL, FINAL = "single", "partial", "final"


class Transformer:
    """The state of one split (single/partial mode) or of the run (final)."""

    def process(self, batch):
        """One input Batch in; a Batch, a list of Batches or None out."""
        return batch

    def merge(self, state):
        """One Batch of partial state (final mode of mergeable transforms)."""
        from .errors import Internal
        raise Internal("this transform does not merge partial states")

    def finish(self):
        """The remaining output (or the partial state in partial mode)."""
        return []


class Transform:
    """Subclass and override `describe`, `__init__` and `process` (or `open`)."""

    @classmethod
    def describe(cls):
        return PluginInfo(cls.__name__.lower(), "0.1.0", cls.__doc__ or "")

    def __init__(self, options, side_tables):
        """`options`: the stage's options table as a dict; `side_tables`: name ->
        list of Batches."""
        self.options = options
        self.side_tables = side_tables

    def output_schema(self, input):
        """The output Schema for an input Schema (default: unchanged)."""
        return input

    def input_columns(self, input):
        """Names of the input columns the transform reads, or None for all. The
        host then sends only those; output columns a returned batch lacks are
        re-attached from the input (row-wise maps only: see wit/plugin.wit)."""
        return None

    def open(self, input, mode):
        """A Transformer for input of Schema `input`; `mode` is SINGLE, PARTIAL or FINAL."""
        return _Mapper(self, input)

    def process(self, batch):
        """Maps one Batch (used by the default `open`)."""
        return batch


class _Mapper(Transformer):
    def __init__(self, transform, schema):
        self.transform, self.schema = transform, schema

    def process(self, batch):
        return self.transform.process(batch)


def _batches(out):
    if out is None:
        return []
    if isinstance(out, arrow.Batch):
        out = [out]
    return [arrow.encode_batch(b) for b in out]


def export_transform(cls):
    """The class componentize-py exports: in your app module write
    `Transform = export_transform(MyTransform)`."""
    from wit_world import exports
    from wit_world.exports import transform as wt

    from . import _wit

    state = {}
    modes = {wt.Mode.SINGLE: SINGLE, wt.Mode.PARTIAL: PARTIAL, wt.Mode.FINAL: FINAL}

    def instance():
        if "t" not in state:
            from .errors import Internal
            raise Internal("transform used before init")
        return state["t"]

    class Resource(wt.Transformer):
        def __init__(self, inner):
            self.inner = inner

        @_wit.guard
        def process(self, batch):
            return _batches(self.inner.process(arrow.decode_batch(batch)))

        @_wit.guard
        def merge(self, batch):
            self.inner.merge(arrow.decode_batch(batch))

        @_wit.guard
        def finish(self):
            return _batches(self.inner.finish())

    class Export(exports.Transform):
        def describe(self):
            return _wit.info(cls.describe(), "transform")

        @_wit.guard
        def init(self, options, side_tables):
            tables = {}
            for s in side_tables:
                tables[s.name] = [arrow.decode_batch(b) for b in s.batches]
            state["t"] = cls(_wit.options(options), tables)

        @_wit.guard
        def output_schema(self, input):
            return arrow.encode_schema(instance().output_schema(arrow.decode_schema(input)))

        @_wit.guard
        def input_columns(self, input):
            cols = instance().input_columns(arrow.decode_schema(input))
            return None if cols is None else list(cols)

        @_wit.guard
        def open(self, input, mode):
            return Resource(instance().open(arrow.decode_schema(input), modes[mode]))

    Export.__name__ = "Transform"
    return Export
