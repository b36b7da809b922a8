alter table items drop constraint items_owner_not_null;
