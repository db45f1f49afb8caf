#!/usr/bin/env bash
# Loads the `sql` plugin's acceptance fixtures for end-to-end runs:
#
#   tests/sql/load-fixtures.sh OUT_DIR
#
# * PostgreSQL (when PG_URL is set, e.g. by `eval "$(tests/sql/pg-cluster.sh start)"`):
#   (re)creates sql_types, sql_skewed, sql_big and sql_text_keys from
#   fixtures/pg-fixtures.sql.
# * SQLite: writes OUT_DIR/fixtures.db from fixtures/sqlite-fixtures.sql.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:?usage: $0 OUT_DIR}"
mkdir -p "$out"
if [ -n "${PG_URL:-}" ]; then
    psql "$PG_URL" -X -q -v ON_ERROR_STOP=1 -f "$here/fixtures/pg-fixtures.sql"
    echo "loaded the PostgreSQL fixtures" >&2
else
    echo "PG_URL is not set: skipped the PostgreSQL fixtures" >&2
fi
python3 "$here/make-sqlite-db.py" "$out/fixtures.db" >&2
