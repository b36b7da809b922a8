create table events (
    id      bigint generated always as identity primary key,
    at      timestamptz not null default now(),
    seen_at timestamp with time zone
);
