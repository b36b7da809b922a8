alter table devices
    drop constraint devices_connection_state_check,
    drop column last_seen_at,
    drop column connection_state,
    drop constraint devices_lifecycle_state_check;

-- The old status has no 'pairing' step: an unfinished pairing goes back to unpaired.
update devices set lifecycle_state = 'unpaired' where lifecycle_state = 'pairing';

alter table devices rename column lifecycle_state to status;
alter table devices
    add constraint devices_status_check check (status in ('unpaired', 'paired', 'retired'));

comment on column devices.status is 'Pairing state: unpaired, paired or retired.';
