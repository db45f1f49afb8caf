-- The 2,000,000-row benchmark table for bench/sql/run.sh:
--   psql "$PG_URL" -v ON_ERROR_STOP=1 -f bench/sql/gen.sql
-- Typical export columns: a bigint key, integers, a float, a decimal, short
-- text, a boolean, a date and a timestamptz (about 90 bytes per row on disk).
SET client_min_messages = warning;
DROP TABLE IF EXISTS bench_rows;
CREATE TABLE bench_rows AS
SELECT g::bigint                                               AS id,
       (g % 100000)::int                                       AS customer_id,
       (g * 7 % 1000)::smallint                                AS quantity,
       (g % 100003) / 7.0::float8                              AS score,
       round(((g % 500000) / 100.0)::numeric, 2)::numeric(12, 2) AS amount,
       'item-' || md5(g::text)                                 AS label,
       g % 3 = 0                                               AS flag,
       date '2020-01-01' + (g % 1500)                          AS day,
       timestamptz '2020-01-01 00:00:00+00' + g * interval '1 second' AS created_at
FROM generate_series(1, 2000000) AS g;
ALTER TABLE bench_rows ADD PRIMARY KEY (id);
VACUUM ANALYZE bench_rows;
