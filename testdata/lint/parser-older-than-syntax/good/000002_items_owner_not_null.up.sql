-- The same, in syntax every supported release accepts.
alter table items add constraint items_owner_not_null check (owner is not null) not valid;
