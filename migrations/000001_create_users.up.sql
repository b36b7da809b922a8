-- visionA accounts. Emails are compared case-insensitively, without citext:
-- the column keeps the address as the user typed it, and a unique index on
-- lower(email) both enforces uniqueness and serves the login lookup
-- (where lower(email) = lower($1)).
create table users (
    id            uuid        not null default gen_random_uuid(),
    email         text        not null,
    password_hash text        not null,
    display_name  text        not null default '',
    created_at    timestamptz not null default now(),
    updated_at    timestamptz not null default now(),
    constraint users_pkey primary key (id),
    constraint users_email_check check (position('@' in email) > 1)
);

create unique index users_email_lower_key on users (lower(email));

comment on table users is 'visionA accounts; owners of models and devices.';
comment on column users.email is 'Login address as entered; unique case-insensitively through users_email_lower_key.';
comment on column users.password_hash is 'Encoded password hash (algorithm and parameters included); never the password.';
comment on index users_email_lower_key is 'Case-insensitive uniqueness of email; serves the login lookup on lower(email).';
