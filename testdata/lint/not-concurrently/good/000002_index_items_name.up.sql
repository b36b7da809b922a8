-- migrate:no-transaction
create unique index concurrently if not exists items_name_key on items (name);
