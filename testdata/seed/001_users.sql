-- Seed users. Fixed ids, so other seed files, bookmarks and bug reports can refer to them.
-- Emails keep the case people typed (mixed on purpose): users_email_lower_key compares them
-- case-insensitively, and the login lookup must use lower(email).
-- The password hashes are in the application's encoded format but match no password: seeded
-- accounts cannot log in until a password is set for them.
insert into users (id, email, password_hash, display_name, created_at, updated_at)
values
    ('a0000000-0000-4000-8000-000000000001', 'Alice.Martin@Example.com',
     '$argon2id$v=19$m=65536,t=3,p=4$c2VlZC1hbGljZQ$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
     'Alice Martin', '2024-01-15 09:12:00+00', '2024-01-15 09:12:00+00'),
    ('a0000000-0000-4000-8000-000000000002', 'bob@visiona.dev',
     '$argon2id$v=19$m=65536,t=3,p=4$c2VlZC1ib2I$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
     'Bob Chen', '2024-01-20 14:03:00+00', '2024-03-02 08:30:00+00'),
    ('a0000000-0000-4000-8000-000000000003', 'Carol.Nguyen@EXAMPLE.ORG',
     '$argon2id$v=19$m=65536,t=3,p=4$c2VlZC1jYXJvbA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
     'Carol Nguyen', '2024-02-05 17:45:00+00', '2024-02-05 17:45:00+00');

-- A user who never set a display name: the column's default ('') applies.
insert into users (id, email, password_hash, created_at, updated_at)
values
    ('a0000000-0000-4000-8000-000000000004', 'Dave+Edge@Example.NET',
     '$argon2id$v=19$m=65536,t=3,p=4$c2VlZC1kYXZl$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
     '2024-03-11 11:00:00+00', '2024-03-11 11:00:00+00');
