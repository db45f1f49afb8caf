"""Tests of the {{name}} reader that run with plain CPython, outside the
sandbox: `python3 -m unittest` in this folder."""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "sdk"))
from runtime_plugin import testing  # noqa: E402

import plugin  # noqa: E402


class ReaderTest(unittest.TestCase):
    def test_reads_pairs_and_rejects_bad_lines(self):
        data = b"# comment\nname = Ada\n\nnot a pair\nurl=http://x/?a=b\n"
        rows, rejects = testing.read(plugin.Plugin, {}, data, path="a.txt")
        self.assertEqual(rows, [
            {"source_path": "a.txt", "key": "name", "value": "Ada"},
            {"source_path": "a.txt", "key": "url", "value": "http://x/?a=b"},
        ])
        self.assertEqual(rejects, [("line 4", "no separator in the line")])

    def test_rejects_unknown_options(self):
        with self.assertRaises(Exception):
            plugin.Plugin({"sepparator": ":"})


if __name__ == "__main__":
    unittest.main()
