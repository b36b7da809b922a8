create table events (
    id bigint generated always as identity primary key,
    at timestamp not null default now()
);
