#!/usr/bin/env bash
# Benchmark: a 2,000,000-row PostgreSQL table read three ways in one run.
#
#   bench/sql/run.sh            # uses $PG_URL, or starts tests/sql/pg-cluster.sh
#
# 1. psql `COPY (SELECT * FROM bench_rows) TO STDOUT (FORMAT binary)` to
#    /dev/null: the server's limit.
# 2. ConnectorX (`partition_num=2`, Arrow, then pyarrow.parquet.write_table).
# 3. The runtime with the `sql` plugin (bench/sql/pipeline.toml), when a
#    runtime binary is found ($RUNTIME, or target/release/runtime).
# Prints rows/s of each and the ratios. Each measurement is the best of
# $REPEAT runs (default 3).
set -euo pipefail
cd "$(dirname "$0")/../.."
REPEAT="${REPEAT:-3}"
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT

if [ -z "${PG_URL:-}" ]; then
    eval "$(tests/sql/pg-cluster.sh start)"
fi
rows=$(psql "$PG_URL" -X -At -c "SELECT count(*) FROM bench_rows" 2>/dev/null || echo 0)
if [ "$rows" != 2000000 ]; then
    echo "loading bench_rows (2,000,000 rows)..." >&2
    psql "$PG_URL" -X -q -v ON_ERROR_STOP=1 -f bench/sql/gen.sql
    rows=2000000
fi

best() { sort -g | head -1; }
now() { date +%s.%N; }

copy_times=()
for _ in $(seq "$REPEAT"); do
    t0=$(now)
    psql "$PG_URL" -X -q -c "COPY (SELECT * FROM bench_rows) TO STDOUT (FORMAT binary)" >/dev/null
    copy_times+=("$(echo "$(now) - $t0" | bc)")
done
copy=$(printf '%s\n' "${copy_times[@]}" | best)

cx_times=()
for _ in $(seq "$REPEAT"); do
    read -r n secs < <(python3 bench/sql/connectorx_export.py "$OUT/cx.parquet")
    [ "$n" = "$rows" ] || { echo "ConnectorX read $n rows, expected $rows" >&2; exit 1; }
    cx_times+=("$secs")
done
cx=$(printf '%s\n' "${cx_times[@]}" | best)

runtime_bin="${RUNTIME:-target/release/runtime}"
rt=""
if [ -x "$runtime_bin" ]; then
    sed "s|@PG_ADDRESS@|${PG_ADDRESS:-127.0.0.1:5432}|; s|@OUT@|$OUT/runtime.parquet|" bench/sql/pipeline.toml.in >"$OUT/pipeline.toml"
    rt_times=()
    for _ in $(seq "$REPEAT"); do
        t0=$(now)
        "$runtime_bin" run "$OUT/pipeline.toml" >/dev/null
        rt_times+=("$(echo "$(now) - $t0" | bc)")
    done
    rt=$(printf '%s\n' "${rt_times[@]}" | best)
fi

rate() { echo "scale=0; $rows / $1" | bc; }
printf '%-34s %8s s %12s rows/s\n' "psql COPY binary > /dev/null" "$copy" "$(rate "$copy")"
printf '%-34s %8s s %12s rows/s\n' "ConnectorX (2 partitions) + Parquet" "$cx" "$(rate "$cx")"
if [ -n "$rt" ]; then
    printf '%-34s %8s s %12s rows/s\n' "runtime sql plugin + Parquet" "$rt" "$(rate "$rt")"
    echo "runtime / ConnectorX time: $(echo "scale=2; $rt / $cx" | bc)   runtime / raw COPY time: $(echo "scale=2; $rt / $copy" | bc)"
else
    echo "runtime: no binary at $runtime_bin (set RUNTIME=...); skipped"
fi
