#!/usr/bin/env bash
# Benchmark: a 2,000,000-row PostgreSQL table read three ways in one run.
#
#   bench/sql/run.sh            # uses $PG_URL/$PG_ADDRESS, or starts tests/sql/pg-cluster.sh
#
# 1. psql `COPY (SELECT * FROM bench_rows) TO STDOUT (FORMAT binary)` to
#    /dev/null: the server's limit for one stream.
# 2. ConnectorX (`partition_num=2`, Arrow, then pyarrow.parquet.write_table).
# 3. The runtime with the `sql` plugin (bench/sql/pipeline.toml.in: 8
#    equal-width splits, 2 workers), release build ($RUNTIME, or
#    target/release/runtime), with its defaults.
# Prints the best of $REPEAT runs (default 3) of each, rows/s and the ratios
# against the goals (at least as fast as ConnectorX, within 1.5x of COPY).
set -euo pipefail
cd "$(dirname "$0")/../.."
REPEAT="${REPEAT:-3}"
OUT="$(mktemp -d)"
started_cluster=""
cleanup() {
    if [ -n "$started_cluster" ]; then tests/sql/pg-cluster.sh stop || true; fi
    rm -rf "$OUT"
}
trap cleanup EXIT

if [ -z "${PG_URL:-}" ]; then
    SQL_PG_DIR="$(mktemp -d "${TMPDIR:-/tmp}/runtime-bench-pg.XXXXXX")"
    export SQL_PG_DIR
    pg_env="$(tests/sql/pg-cluster.sh start)"
    eval "$pg_env"
    started_cluster=1
fi
: "${PG_ADDRESS:?PG_ADDRESS (host:port of the server) must be set with PG_URL}"
export PG_URL PG_ADDRESS

rows=$(psql "$PG_URL" -X -At -c "SELECT count(*) FROM bench_rows" 2>/dev/null || echo 0)
if [ "$rows" != 2000000 ]; then
    echo "loading bench_rows (2,000,000 rows)..." >&2
    psql "$PG_URL" -X -q -v ON_ERROR_STOP=1 -f bench/sql/gen.sql
    rows=2000000
fi

best() { sort -g | head -1; }
median() { sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
now() { date +%s.%N; }
elapsed() { echo "$(now) - $1" | bc; }

runtime_bin="${RUNTIME:-target/release/runtime}"
if [ ! -x "$runtime_bin" ]; then
    echo "no runtime binary at $runtime_bin: cargo build --release -p runtime (or set RUNTIME=...)" >&2
    exit 1
fi
sed "s|@PG_ADDRESS@|$PG_ADDRESS|; s|@OUT@|$OUT/runtime.parquet|" bench/sql/pipeline.toml.in >"$OUT/pipeline.toml"

# One runtime run; checks the report's row count; prints the seconds.
runtime_run() {
    local t0
    t0=$(now)
    "$runtime_bin" run "$OUT/pipeline.toml" --workers 2 -q --report "$OUT/report.json" "$@" >/dev/null
    local secs
    secs=$(elapsed "$t0")
    python3 - "$OUT/report.json" "$rows" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
want = int(sys.argv[2])
got = r["outputs"][0]["rows"]
if r["status"] != "ok" or got != want:
    sys.exit(f"runtime: status {r['status']}, {got} rows written, expected {want}")
print(f"  runtime: {r['elapsed_seconds']:.2f} s in the run, spilled {r['spilled_bytes'] / 2**20:.0f} MiB, "
      f"peak RSS {r['peak_rss_bytes'] / 2**20:.0f} MiB", file=sys.stderr)
PY
    echo "$secs"
}

copy_times=() cx_times=() rt_times=()
for i in $(seq "$REPEAT"); do
    echo "round $i/$REPEAT" >&2
    t0=$(now)
    psql "$PG_URL" -X -q -c "COPY (SELECT * FROM bench_rows) TO STDOUT (FORMAT binary)" >/dev/null
    copy_times+=("$(elapsed "$t0")")

    read -r n secs < <(python3 bench/sql/connectorx_export.py "$OUT/cx.parquet")
    [ "$n" = "$rows" ] || { echo "ConnectorX read $n rows, expected $rows" >&2; exit 1; }
    cx_times+=("$secs")

    rt_times+=("$(runtime_run)")
done
copy=$(printf '%s\n' "${copy_times[@]}" | best)
cx=$(printf '%s\n' "${cx_times[@]}" | best)
rt=$(printf '%s\n' "${rt_times[@]}" | best)
med() { printf '%s\n' "$@" | median; }

rate() { echo "scale=0; $rows / $1" | bc; }
ratio() { echo "scale=2; $1 / $2" | bc; }
line() { printf '%-46s %6.2f s %10s rows/s   (median %.2f s)\n' "$1" "$2" "$(rate "$2")" "$3"; }
echo
echo "best of $REPEAT:"
line "psql COPY (FORMAT binary) > /dev/null" "$copy" "$(med "${copy_times[@]}")"
line "ConnectorX (partition_num=2) + Parquet" "$cx" "$(med "${cx_times[@]}")"
line "runtime sql plugin + Parquet" "$rt" "$(med "${rt_times[@]}")"
echo
echo "runtime time / ConnectorX time: $(ratio "$rt" "$cx")   (goal <= 1)"
echo "runtime time / raw COPY time:   $(ratio "$rt" "$copy")   (goal <= 1.5)"
