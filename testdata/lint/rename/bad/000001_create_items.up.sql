create table items (
    id    bigint generated always as identity primary key,
    name  text   not null,
    owner bigint,
    price integer
);

create type item_state as enum ('new', 'used');
create schema shop;
