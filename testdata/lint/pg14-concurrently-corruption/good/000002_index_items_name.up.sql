-- migrate:no-transaction
create index concurrently if not exists items_name_idx on items (name);
