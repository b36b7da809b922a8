-- migrate:no-transaction
create unique index concurrently items_name_key on items (name);
