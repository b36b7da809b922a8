-- One-time tokens a device presents to pair with its owner's account. Only a
-- hash is stored: the token itself is shown once and never kept, so the hash
-- is the natural primary key and the lookup key when a device presents one.
create table pairing_tokens (
    token_hash  bytea       not null,
    device_id   uuid        not null,
    created_at  timestamptz not null default now(),
    expires_at  timestamptz not null,
    consumed_at timestamptz,
    revoked_at  timestamptz,
    constraint pairing_tokens_pkey primary key (token_hash),
    -- Tokens mean nothing without their device: a hard delete (a purge) takes them along.
    constraint pairing_tokens_device_id_fkey foreign key (device_id) references devices (id) on delete cascade,
    constraint pairing_tokens_token_hash_check check (octet_length(token_hash) = 32),
    constraint pairing_tokens_expires_at_check check (expires_at > created_at)
);

-- A device's tokens: its live ones (to revoke them when the device is deleted,
-- or to refuse issuing a second one: the query adds consumed_at is null and
-- revoked_at is null and expires_at > now()), and all of them for the
-- on delete cascade of a device purge. Not partial on purpose: a device has a
-- handful of tokens, and a partial index would leave the cascade scanning the
-- whole table.
create index pairing_tokens_device_id_idx on pairing_tokens (device_id);

-- The purge job: delete from pairing_tokens where expires_at < $1.
create index pairing_tokens_expires_at_idx on pairing_tokens (expires_at);

comment on table pairing_tokens is 'One-time device pairing tokens; only their SHA-256 hash is stored.';
comment on column pairing_tokens.token_hash is 'SHA-256 of the token (32 bytes); the token itself is never stored.';
comment on column pairing_tokens.consumed_at is 'When the device used the token to pair; a consumed token cannot be used again.';
comment on column pairing_tokens.revoked_at is 'When the token was revoked (by the owner, or because its device was deleted).';
