alter table items add constraint items_name_key unique (name);
