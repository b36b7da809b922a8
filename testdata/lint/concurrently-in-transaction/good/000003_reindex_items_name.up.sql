-- migrate:no-transaction
reindex (concurrently) index items_name_idx;
