alter table items alter column owner drop not null;
alter table items add constraint items_owner_not_null check (owner is not null) not valid;
