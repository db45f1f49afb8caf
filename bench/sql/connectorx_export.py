#!/usr/bin/env python3
"""ConnectorX baseline: read bench_rows with 2 partitions, write Parquet.

    python3 connectorx_export.py OUT.parquet
Prints `rows seconds` on stdout. The URL comes from PG_URL.
"""
import os
import sys
import time

import connectorx as cx
import pyarrow.parquet as pq

start = time.perf_counter()
table = cx.read_sql(
    os.environ["PG_URL"],
    "SELECT * FROM bench_rows",
    partition_on="id",
    partition_num=2,
    return_type="arrow",
)
pq.write_table(table, sys.argv[1])
print(table.num_rows, f"{time.perf_counter() - start:.3f}")
