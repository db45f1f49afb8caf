-- The sample `orders` table for pipeline-postgres.toml (the same rows as
-- make-sample-db.py writes to SQLite):  psql "$PG_URL" -f orders.sql
DROP TABLE IF EXISTS orders;
CREATE TABLE orders (
    id          bigint PRIMARY KEY,
    customer    text,
    amount      numeric(12, 2),
    discount    double precision,
    paid        boolean,
    ordered_on  date,
    created_at  timestamptz,
    note        text
);
-- 20,000 orders: most ids dense, a tail of large ids (a skewed key).
INSERT INTO orders
SELECT CASE WHEN g <= 18000 THEN g ELSE g::bigint * 1000000000 END,
       'customer ' || (g % 997),
       round((g % 50000) / 100.0 + 1, 2),
       CASE WHEN g % 10 = 0 THEN NULL ELSE (g % 7) / 20.0 END,
       g % 3 <> 0,
       date '2024-01-01' + (g % 366),
       timestamptz '2024-01-01 00:00:00+00' + g * interval '7 minutes',
       CASE WHEN g % 11 = 0 THEN '' WHEN g % 13 = 0 THEN NULL ELSE 'note "' || g || E'"\nsecond line' END
FROM generate_series(1, 20000) AS g;
