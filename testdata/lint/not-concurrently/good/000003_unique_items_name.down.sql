alter table items drop constraint items_name_key;
