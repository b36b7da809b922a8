-- migrate:no-transaction
drop index concurrently if exists items_name_idx;
