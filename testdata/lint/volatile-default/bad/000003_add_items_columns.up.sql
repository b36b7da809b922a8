create function next_rank() returns bigint language sql as $$ select 1::bigint $$;

alter table items
    add column seen_at timestamptz default clock_timestamp(),
    add column seq bigserial,
    add column num bigint generated always as identity,
    add column rank bigint default next_rank() + 1;
