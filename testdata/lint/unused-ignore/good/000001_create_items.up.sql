create table items (
    id    bigint not null,
    name  text   not null,
    owner bigint,
    constraint items_pkey primary key (id)
);
