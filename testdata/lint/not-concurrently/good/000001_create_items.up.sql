create table items (
    id    bigint not null,
    name  text   not null,
    owner bigint,
    constraint items_pkey primary key (id)
);

-- Same file as the table: it is empty, the index costs nothing.
create index items_owner_idx on items (owner);
