"""redact: replaces e-mail addresses and phone numbers in chosen string columns.

Options:
    columns      list of the string columns to redact (required)
    emails       redact e-mail addresses (default true)
    phones       redact phone numbers (default true)
    email_mask   replacement for an address (default "[email]")
    phone_mask   replacement for a number (default "[phone]")

Only the named columns cross into the sandbox (`input_columns`); the host
re-attaches every other column unchanged. A dictionary-encoded string column
(the ndjson reader's `dictionary = true`) is read as its values and written
back dictionary-encoded.
"""

import re

import runtime_plugin as rp
from runtime_plugin import arrow

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# An optional +, then 8 to 15 digits, possibly grouped by spaces, dots,
# dashes or parentheses: +1 (555) 010-9999, 06 12 34 56 78, 555-0100-22.
PHONE = re.compile(r"(?<![\w+])\+?\(?\d(?:[ .\-()]{0,2}\d){7,14}(?!\w)")
TEXT = (arrow.utf8, arrow.large_utf8)
OPTIONS = ("columns", "emails", "phones", "email_mask", "phone_mask")


class Redact(rp.Transform):
    """Replaces e-mail addresses and phone numbers in chosen string columns"""

    @classmethod
    def describe(cls):
        return rp.PluginInfo("redact", "0.1.0", cls.__doc__, options=[
            rp.Option("columns", "list of string", "String columns to redact", required=True),
            rp.Option("emails", "boolean", "Redact e-mail addresses", default="true"),
            rp.Option("phones", "boolean", "Redact phone numbers", default="true"),
            rp.Option("email_mask", "string", "Replacement of an address", default='"[email]"'),
            rp.Option("phone_mask", "string", "Replacement of a number", default='"[phone]"'),
        ])

    def __init__(self, options, side_tables):
        rp.check_options(options, OPTIONS)
        columns = options.get("columns")
        if not isinstance(columns, list) or not columns or not all(isinstance(c, str) for c in columns):
            raise rp.InvalidOptions("`columns` must be a non-empty list of column names")
        self.columns = columns
        self.rules = []
        if options.get("emails", True):
            self.rules.append((EMAIL, str(options.get("email_mask", "[email]"))))
        if options.get("phones", True):
            self.rules.append((PHONE, str(options.get("phone_mask", "[phone]"))))

    def input_columns(self, input):
        for name in self.columns:
            if name not in input.names:
                raise rp.InvalidOptions("columns: no column `%s` in the input (it has: %s)"
                                        % (name, ", ".join(input.names)))
            ty = input.field(name).type
            if ty not in TEXT and not (ty.kind == "dictionary" and ty.value in TEXT):
                raise rp.InvalidOptions("columns: `%s` is %s, not a string column" % (name, ty))
        return self.columns

    def redact(self, value):
        if value is None:
            return None
        for pattern, mask in self.rules:
            value = pattern.sub(mask, value)
        return value

    def process(self, batch):
        out = [[self.redact(v) for v in batch.column(name)] for name in self.columns]
        return arrow.Batch(batch.schema, out, batch.num_rows)


Transform = rp.export_transform(Redact)
