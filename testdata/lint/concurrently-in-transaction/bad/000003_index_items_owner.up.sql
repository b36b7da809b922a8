-- migrate:no-transaction
create index concurrently items_owner_idx on items (owner);
reindex index concurrently items_owner_idx;
