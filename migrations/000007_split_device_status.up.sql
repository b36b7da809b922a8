-- A device has two independent states: where it is in its life (pairing
-- included, which gains a 'pairing' step while a token is outstanding) and
-- whether it is connected right now. The old status column becomes
-- lifecycle_state; connection_state is new.
alter table devices rename column status to lifecycle_state;
alter table devices drop constraint devices_status_check;
alter table devices
    add constraint devices_lifecycle_state_check
        check (lifecycle_state in ('unpaired', 'pairing', 'paired', 'retired')),
    add column connection_state text not null default 'unknown',
    add column last_seen_at timestamptz,
    add constraint devices_connection_state_check
        check (connection_state in ('online', 'offline', 'unknown'));

comment on column devices.lifecycle_state is 'Lifecycle and pairing state: unpaired, pairing (a pairing token is outstanding), paired or retired.';
comment on column devices.connection_state is 'Connection state as last reported: online, offline or unknown (never heard from, or state lost).';
comment on column devices.last_seen_at is 'Last time the device contacted the service; null if never.';
