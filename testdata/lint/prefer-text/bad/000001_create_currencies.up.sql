create table currencies (
    id   bigint generated always as identity primary key,
    code char(3) not null
);
