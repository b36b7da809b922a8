create table currencies (
    id   bigint generated always as identity primary key,
    code text not null check (length(code) = 3)
);
