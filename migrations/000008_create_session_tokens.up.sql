-- Session tokens a paired device presents on every call (distinct from user
-- web sessions, which live in Redis). Like pairing tokens, only the hash is
-- stored and it is the primary key.
create table session_tokens (
    token_hash   bytea       not null,
    device_id    uuid        not null,
    created_at   timestamptz not null default now(),
    expires_at   timestamptz not null,
    last_used_at timestamptz,
    revoked_at   timestamptz,
    constraint session_tokens_pkey primary key (token_hash),
    constraint session_tokens_device_id_fkey foreign key (device_id) references devices (id) on delete cascade,
    constraint session_tokens_token_hash_check check (octet_length(token_hash) = 32),
    constraint session_tokens_expires_at_check check (expires_at > created_at)
);

-- A device's sessions: revoke the live ones when the device is deleted, retired
-- or re-paired (where device_id = $1 and revoked_at is null), and find all of
-- them for the on delete cascade of a device purge. Not partial for the same
-- reason as pairing_tokens_device_id_idx: few rows per device (the purge job
-- keeps it so), and the cascade must see every row.
create index session_tokens_device_id_idx on session_tokens (device_id);

-- The purge job: delete from session_tokens where expires_at < $1.
create index session_tokens_expires_at_idx on session_tokens (expires_at);

comment on table session_tokens is 'Device session tokens; only their SHA-256 hash is stored.';
comment on column session_tokens.token_hash is 'SHA-256 of the token (32 bytes); the token itself is never stored.';
comment on column session_tokens.last_used_at is 'Last authenticated call made with this token; null if never used.';
comment on column session_tokens.revoked_at is 'When the session was revoked (logout, re-pairing, or its device was deleted).';
