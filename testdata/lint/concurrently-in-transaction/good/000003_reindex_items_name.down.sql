-- migrate:no-transaction
-- Nothing to reverse: a rebuilt index is the same index.
reindex (concurrently) index items_name_idx;
