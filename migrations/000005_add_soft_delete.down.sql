-- Without deleted_at, soft-deleted rows would come back to life and could
-- collide with live rows on the restored unique constraints: purge them first
-- (their tokens go with them through on delete cascade).
delete from devices where deleted_at is not null;
delete from models where deleted_at is not null;

drop index devices_owner_id_created_at_live_idx;
create index devices_owner_id_idx on devices (owner_id);
drop index devices_serial_live_key;
alter table devices add constraint devices_serial_key unique (serial);

drop index models_owner_id_source_live_idx;
drop index models_owner_id_target_chip_live_idx;
drop index models_owner_id_created_at_live_idx;
drop index models_owner_id_name_live_key;
alter table models add constraint models_owner_id_name_key unique (owner_id, name);

alter table devices drop column deleted_at;
alter table models drop column deleted_at;
