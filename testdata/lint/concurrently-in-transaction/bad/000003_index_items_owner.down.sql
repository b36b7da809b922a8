-- migrate:no-transaction
drop index concurrently items_owner_idx;
