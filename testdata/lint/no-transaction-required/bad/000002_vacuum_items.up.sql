-- VACUUM refuses to run inside a transaction block.
vacuum (analyze) items;
