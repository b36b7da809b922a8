-- migrate:no-transaction
drop index concurrently items_name_idx;
