create table events (id bigserial primary key);
-- A table of this file: empty, nothing to rewrite.
alter table events add column token uuid not null default gen_random_uuid();
