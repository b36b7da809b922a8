create table events (id bigint primary key);
alter table events add column kind text not null;
