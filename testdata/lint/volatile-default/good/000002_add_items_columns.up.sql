-- Constant and stable defaults are stored once (PostgreSQL 11+): no rewrite.
create function default_rank() returns bigint language sql immutable as $$ select 1::bigint $$;

alter table items
    add column created_at timestamptz not null default now(),
    add column state text not null default 'new',
    add column tags text[] not null default '{}',
    add column rank bigint not null default default_rank(),
    add column token uuid;

-- Setting a default does not touch existing rows.
alter table items alter column token set default gen_random_uuid();
