alter table items validate constraint items_name_check;
alter table items validate constraint items_owner_fkey;
