alter table items add constraint items_name_key unique using index items_name_key;
