"""The end shared by the DuckDB comparisons (tests/parquet/compare.py,
tests/csv/compare.py, tests/ndjson/compare.py): with views `o` (the
runtime's output) and `i` (DuckDB reading the inputs) on `con`, the row
counts must agree and the multisets of rows over `cols` must be equal
(EXCEPT ALL both ways). Prints `IDENTICAL <rows>`, or `DIFFERENT` and the
problems (the caller's first), and exits 1 when they differ.

`compare_typed` first checks that both views have the same columns with
the same DuckDB types (up to the pairs in `same`, each type mapped to the
one it counts as), then compares the rows, timestamps as microseconds
since the epoch (the runtime writes UTC timestamps, DuckDB may read naive
ones) and JSON columns of the inputs as minified JSON (`json(x)`)."""
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


def compare_typed(con, same):
    out_cols = con.execute("DESCRIBE o").fetchall()
    in_types = {r[0]: r[1] for r in con.execute("DESCRIBE i").fetchall()}
    problems = []
    if [c[0] for c in out_cols] != list(in_types):
        problems.append(f"columns: output {[c[0] for c in out_cols]}, inputs {list(in_types)}")
    exprs = []
    for name, ty, *_ in out_cols:
        other = in_types.get(name)
        if same.get(ty, ty) != same.get(other, other):
            problems.append(f"column {name}: output {ty}, inputs {other}")
        if other == "JSON":
            exprs.append(f'json("{name}")')
        elif ty.startswith("TIMESTAMP"):
            exprs.append(f'epoch_us("{name}")')
        else:
            exprs.append(f'"{name}"')
    report(con, ", ".join(exprs), problems)
