create index users_email_idx on users (email);
