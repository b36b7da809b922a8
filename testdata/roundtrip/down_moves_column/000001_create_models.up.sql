create table models (id bigint primary key, name text not null, source text);
