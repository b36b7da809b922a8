create table models (
    id     bigint generated always as identity primary key,
    name   text   not null,
    labels text[] not null default '{}'
);
