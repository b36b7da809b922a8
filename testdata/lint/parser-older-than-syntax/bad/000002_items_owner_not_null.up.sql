-- PostgreSQL 18: a NOT NULL constraint added NOT VALID, validated later.
alter table items add constraint items_owner_not_null not null owner not valid;
