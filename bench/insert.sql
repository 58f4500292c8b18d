-- pgbench reference for writes: one one-row INSERT per transaction.
\set v random(1, 1000000)
INSERT INTO bench_insert (v) VALUES (:v);
