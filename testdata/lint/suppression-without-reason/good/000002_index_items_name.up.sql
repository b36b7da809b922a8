-- lint:ignore not-concurrently items is created empty in the release that adds this index
create index items_name_idx on items (name);
