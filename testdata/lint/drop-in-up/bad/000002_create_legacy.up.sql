create table legacy (id bigint primary key);
alter table items add column old_name text;
