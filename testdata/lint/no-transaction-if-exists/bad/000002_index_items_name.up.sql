-- migrate:no-transaction
create index concurrently items_name_idx on items (name);
