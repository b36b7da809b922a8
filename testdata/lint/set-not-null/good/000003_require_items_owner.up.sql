-- VALIDATE scans without blocking writes; SET NOT NULL then trusts the check.
alter table items validate constraint items_owner_not_null;
alter table items alter column owner set not null;
alter table items drop constraint items_owner_not_null;
