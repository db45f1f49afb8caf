"""Tests of the {{name}} transform that run with plain CPython, outside the
sandbox: `python3 -m unittest` in this folder."""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "sdk"))
from runtime_plugin import arrow, testing  # noqa: E402

import plugin  # noqa: E402


class TransformTest(unittest.TestCase):
    def test_passes_batches_through(self):
        schema = arrow.Schema([arrow.Field("id", arrow.int64), arrow.Field("name", arrow.utf8)])
        rows = [{"id": 1, "name": "Ada"}, {"id": 2, "name": None}]
        self.assertEqual(testing.transform(plugin.Plugin, {}, schema, rows), rows)


if __name__ == "__main__":
    unittest.main()
