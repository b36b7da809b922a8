-- The rule lives on the column, where it can later be replaced NOT VALID and validated.
create table accounts (
    id    bigint generated always as identity primary key,
    email text not null,
    constraint accounts_email_check check (email like '%_@_%')
);
