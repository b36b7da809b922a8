create table items (
    id    bigint primary key,
    code  varchar(20),
    price numeric(10, 2)
);
