-- Seed pairing and session tokens. Only SHA-256 hashes are stored; the plain tokens are the
-- strings hashed below, so a developer can present them to a local server (they are seed data,
-- known to everyone: never use them anywhere else). Times that decide whether a token is usable
-- are relative to the reset, so the live tokens are live after every reset and the expired one
-- is expired.

insert into pairing_tokens (token_hash, device_id, created_at, expires_at, consumed_at, revoked_at)
values
    -- Consumed: the front gate camera paired with it; it cannot be used again.
    (sha256('seed-pairing-front-gate'::bytea), 'c0000000-0000-4000-8000-000000000001',
     '2024-02-10 10:00:00+00', '2024-02-10 10:15:00+00', '2024-02-10 10:03:00+00', null),
    -- Expired unused: the first token issued for aisle 4 ran out.
    (sha256('seed-pairing-aisle-4-expired'::bytea), 'c0000000-0000-4000-8000-000000000003',
     now() - interval '2 days', now() - interval '2 days' + interval '15 minutes', null, null),
    -- Live: the outstanding token that puts aisle 4 in lifecycle_state 'pairing'. A day rather
    -- than a real token's minutes, so it survives a working day after the reset.
    (sha256('seed-pairing-aisle-4'::bytea), 'c0000000-0000-4000-8000-000000000003',
     now(), now() + interval '1 day', null, null),
    -- Revoked when its device was deleted.
    (sha256('seed-pairing-shop-floor-deleted'::bytea), 'c0000000-0000-4000-8000-000000000006',
     '2024-04-09 12:00:00+00', '2024-04-09 12:15:00+00', null, '2024-04-10 09:00:00+00');

insert into session_tokens (token_hash, device_id, created_at, expires_at, last_used_at, revoked_at)
values
    -- Live and in use.
    (sha256('seed-session-front-gate'::bytea), 'c0000000-0000-4000-8000-000000000001',
     now() - interval '1 day', now() + interval '29 days', now() - interval '15 seconds', null),
    -- Revoked: an earlier session of the front gate camera, ended by a logout.
    (sha256('seed-session-front-gate-old'::bytea), 'c0000000-0000-4000-8000-000000000001',
     '2024-02-10 10:03:00+00', '2024-03-11 10:03:00+00', '2024-02-20 07:59:00+00', '2024-02-20 08:00:00+00'),
    -- Live, last used when the device went offline.
    (sha256('seed-session-loading-dock'::bytea), 'c0000000-0000-4000-8000-000000000002',
     now() - interval '20 days', now() + interval '10 days', now() - interval '3 days', null),
    -- Live, never used: issued when the device paired an hour ago.
    (sha256('seed-session-shop-floor'::bytea), 'c0000000-0000-4000-8000-000000000007',
     now() - interval '1 hour', now() - interval '1 hour' + interval '30 days', null, null),
    -- Revoked when its device was deleted.
    (sha256('seed-session-shop-floor-deleted'::bytea), 'c0000000-0000-4000-8000-000000000006',
     '2024-04-01 09:00:00+00', '2024-05-01 09:00:00+00', '2024-04-10 08:59:00+00', '2024-04-10 09:00:00+00');
