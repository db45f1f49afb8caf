"""The end shared by the DuckDB comparisons (tests/parquet/compare.py,
tests/csv/compare.py): with views `o` (the runtime's output) and `i` (DuckDB
reading the inputs) on `con`, the row counts must agree and the multisets
of rows over `cols` must be equal (EXCEPT ALL both ways). Prints
`IDENTICAL <rows>`, or `DIFFERENT` and the problems (the caller's first),
and exits 1 when they differ."""
import sys


def report(con, cols, problems):
    n_out = con.execute("SELECT count(*) FROM o").fetchone()[0]
    n_in = con.execute("SELECT count(*) FROM i").fetchone()[0]
    if n_out != n_in:
        problems.append(f"rows: output {n_out}, inputs {n_in}")
    for a, b in [("o", "i"), ("i", "o")]:
        extra = con.execute(f"SELECT {cols} FROM {a} EXCEPT ALL SELECT {cols} FROM {b} LIMIT 3").fetchall()
        if extra:
            problems.append(f"rows in {a} but not {b}: {extra}")
    if problems:
        print("DIFFERENT")
        print("\n".join(problems))
        sys.exit(1)
    print(f"IDENTICAL {n_out}")
