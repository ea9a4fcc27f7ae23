-- pg/003_delivery_ids.sql - the pair of schema/003_delivery_ids.sql.
--
-- There, SQLite's deliveries table is rebuilt with AUTOINCREMENT so that the
-- id of a discarded (deleted) delivery is never given to a new one. Here the
-- id is an identity column, whose sequence never hands out a number twice:
-- nothing to change. The file exists so that both engines carry the same
-- migration numbers (scripts/check-schema.mjs).

SELECT 1;
