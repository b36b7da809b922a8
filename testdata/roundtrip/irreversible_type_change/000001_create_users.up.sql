create table users (
    id       bigint generated always as identity primary key,
    nickname varchar(20) not null
);
