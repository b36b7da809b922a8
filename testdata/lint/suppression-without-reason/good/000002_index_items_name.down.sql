-- lint:ignore not-concurrently items is created empty in the release that adds this index
drop index items_name_idx;
