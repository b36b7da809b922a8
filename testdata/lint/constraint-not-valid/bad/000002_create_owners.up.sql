create table owners (id bigint primary key);
