-- Seed devices: every lifecycle_state (unpaired, pairing, paired, retired) and every
-- connection_state (online, offline, unknown). Recent activity (last_seen_at, and the updated_at
-- the update of last_seen_at gave) is relative to the reset, so online devices look connected
-- whenever the reset ran; older history has fixed times.
insert into devices (id, owner_id, serial, name, lifecycle_state, connection_state, last_seen_at,
                     created_at, updated_at, deleted_at)
values
    ('c0000000-0000-4000-8000-000000000001', 'a0000000-0000-4000-8000-000000000001',
     'VSA-2024-000101', 'Front gate camera', 'paired', 'online', now() - interval '15 seconds',
     '2024-02-10 09:55:00+00', now() - interval '15 seconds', null),
    ('c0000000-0000-4000-8000-000000000002', 'a0000000-0000-4000-8000-000000000001',
     'VSA-2024-000102', 'Loading dock', 'paired', 'offline', now() - interval '3 days',
     '2024-02-12 08:00:00+00', now() - interval '3 days', null),
    -- A pairing token is outstanding (see 004_tokens.sql); never heard from yet.
    ('c0000000-0000-4000-8000-000000000003', 'a0000000-0000-4000-8000-000000000001',
     'VSA-2024-000103', 'Warehouse aisle 4', 'pairing', 'unknown', null,
     '2024-03-10 15:00:00+00', '2024-03-10 15:01:00+00', null),
    -- Unpaired but connected: it is waiting to pair.
    ('c0000000-0000-4000-8000-000000000004', 'a0000000-0000-4000-8000-000000000002',
     'VSA-2024-000201', '', 'unpaired', 'online', now() - interval '1 minute',
     '2024-03-02 08:40:00+00', now() - interval '1 minute', null),
    ('c0000000-0000-4000-8000-000000000005', 'a0000000-0000-4000-8000-000000000002',
     'VSA-2023-000017', 'Old lobby camera', 'retired', 'offline', '2024-02-01 07:15:00+00',
     '2024-01-21 10:00:00+00', '2024-02-01 12:00:00+00', null),
    -- Deleted by Carol (its tokens were revoked in the same transaction), then the same hardware
    -- registered again as a new device: devices_serial_live_key covers live devices only.
    ('c0000000-0000-4000-8000-000000000006', 'a0000000-0000-4000-8000-000000000003',
     'VSA-2024-000301', 'Shop floor', 'paired', 'offline', '2024-04-10 08:59:00+00',
     '2024-02-06 10:00:00+00', '2024-04-10 09:00:00+00', '2024-04-10 09:00:00+00'),
    -- Paired an hour ago, then its connection state was lost (a server restart).
    ('c0000000-0000-4000-8000-000000000007', 'a0000000-0000-4000-8000-000000000003',
     'VSA-2024-000301', 'Shop floor (re-registered)', 'paired', 'unknown', now() - interval '1 hour',
     '2024-04-11 09:30:00+00', now() - interval '1 hour', null);
