"""Splits grouped into partitions: largest first onto the least loaded."""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "integrations", "spark"))

from runtime_spark.balance import group_splits  # noqa: E402


def s(i, size):
    return {"id": f"s{i}", "size_hint": size}


class Balance(unittest.TestCase):
    def test_largest_first_onto_the_least_loaded(self):
        splits = [s(0, 100), s(1, 60), s(2, 50), s(3, 40), s(4, 10)]
        groups = group_splits(splits, 2)
        self.assertEqual([[x["id"] for x in g] for g in groups], [["s0", "s3"], ["s1", "s2", "s4"]])
        self.assertEqual([sum(x["size_hint"] for x in g) for g in groups], [140, 120])

    def test_no_more_partitions_than_splits_and_every_split_once(self):
        splits = [s(i, 10 * (i % 4)) for i in range(3)]
        groups = group_splits(splits, 8)
        self.assertEqual(len(groups), 3)
        self.assertEqual(sorted(x["id"] for g in groups for x in g), ["s0", "s1", "s2"])


if __name__ == "__main__":
    unittest.main()
