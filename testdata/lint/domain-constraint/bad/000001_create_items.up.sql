create domain amount as integer;
create table items (
    id    bigint generated always as identity primary key,
    price amount
);
