"""{{name}}: a transform that passes every batch through unchanged.

This is the starting point `runtime new-plugin` wrote: it runs in a pipeline
as it is; edit `output_schema` and `process` to change the data. The
lifecycle of a transform, in the order the host calls it:

1. `describe` - static facts, also shown by `runtime plugins inspect`.
2. `__init__` - once per sandbox instance (one per worker), with the stage's
   `options` table as a dict and its side tables.
3. `output_schema` - the output schema for the input schema, checked when the
   pipeline is validated, before any data is read.
4. `input_columns` (optional) - the input columns this transform reads. Name
   only those and the host sends only them into the sandbox; output columns
   a returned batch lacks are re-attached from the input unchanged.
5. `process` - every batch of every split: an `arrow.Batch` in, a Batch (or
   a list of them, or None) out. `batch.column(name)` is a list of Python
   values (None for null); build a new batch with `arrow.Batch(schema,
   columns, num_rows)`.

The plugin runs inside the sandbox: it sees only the batches it is handed.
`runtime_plugin.arrow` is the SDK's own pure-Python Arrow (pyarrow cannot
run there).
"""

import runtime_plugin as rp


class Plugin(rp.Transform):
    """Passes every batch through unchanged"""

    @classmethod
    def describe(cls):
        return rp.PluginInfo("{{name}}", "0.1.0", cls.__doc__)

    def __init__(self, options, side_tables):
        rp.check_options(options, ())

    def output_schema(self, input):
        return input

    def process(self, batch):
        return batch
