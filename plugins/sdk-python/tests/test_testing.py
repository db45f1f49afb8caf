"""`runtime_plugin.testing`: plugins run outside the sandbox the way the host
would run them. Run with plain CPython: `python3 -m unittest discover plugins/sdk-python/tests`."""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import runtime_plugin as rp  # noqa: E402
from runtime_plugin import arrow, testing  # noqa: E402

WORDS = arrow.Schema([arrow.Field("n", arrow.int64, nullable=False), arrow.Field("word", arrow.utf8)])


class Words(rp.Reader):
    def output_schemas(self):
        return {"rows": WORDS}

    def read(self, split, file, input):
        for number, raw in input.lines():
            if raw == b"bad":
                self.reject("line %d" % number, "bad word")
            elif raw == b"stop":
                return rp.partial("stopped at line %d" % number)
            else:
                yield {"n": number, "word": raw.decode()}


class Shout(rp.Transform):
    def output_schema(self, input):
        return input

    def input_columns(self, input):
        return ["word"]

    def process(self, batch):
        assert batch.schema.names == ["word"], batch.schema.names
        return arrow.Batch(batch.schema, [[w and w.upper() for w in batch.column("word")]])


class TestingTest(unittest.TestCase):
    def test_reader_rows_rejects_and_partial(self):
        rows, rejects = testing.read(Words, {}, b"a\nbad\nb\nstop\nc\n")
        self.assertEqual(rows, [{"n": 1, "word": "a"}, {"n": 3, "word": "b"}])
        self.assertEqual(rejects, [("line 2", "bad word"), ("partial", "stopped at line 4")])

    def test_reader_values_cross_the_codec(self):
        class Wrong(Words):
            def read(self, split, file, input):
                yield {"n": "not a number", "word": "x"}
        with self.assertRaises(Exception):
            testing.read(Wrong, {}, b"x\n")

    def test_transform_gets_only_its_columns_and_the_rest_is_reattached(self):
        rows = testing.transform(Shout, {}, WORDS, [{"n": 1, "word": "hi"}, {"n": 2, "word": None}])
        self.assertEqual(rows, [{"n": 1, "word": "HI"}, {"n": 2, "word": None}])


if __name__ == "__main__":
    unittest.main()
