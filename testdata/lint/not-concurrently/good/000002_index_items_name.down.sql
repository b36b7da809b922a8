-- migrate:no-transaction
-- Dropping 000003's constraint took the index with it.
drop index concurrently if exists items_name_key;
