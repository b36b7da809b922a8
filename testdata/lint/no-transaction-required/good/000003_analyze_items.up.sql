-- ANALYZE alone runs inside a transaction, under a lock that lets reads and writes through.
analyze items;
