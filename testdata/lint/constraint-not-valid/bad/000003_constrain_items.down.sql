alter table items drop constraint items_name_check, drop constraint items_owner_fkey;
