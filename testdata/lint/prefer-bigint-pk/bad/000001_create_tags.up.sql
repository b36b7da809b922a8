create table tags (
    id    serial primary key,
    label text not null
);
create table colors (
    id   integer not null,
    name text not null,
    constraint colors_pkey primary key (id)
);
