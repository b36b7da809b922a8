-- Soft delete for models and devices: a deleted row keeps its history (tokens,
-- audit) but disappears from every listing, and frees its natural key, so a
-- user can upload a model under the same name again, and a device's serial can
-- register again. Uniqueness therefore moves from table constraints to partial
-- unique indexes over live rows, and the filter indexes cover live rows only
-- (the only rows the application lists).
alter table models add column deleted_at timestamptz;
alter table devices add column deleted_at timestamptz;

alter table models drop constraint models_owner_id_name_key;
create unique index models_owner_id_name_live_key on models (owner_id, name)
    where deleted_at is null;
create index models_owner_id_created_at_live_idx on models (owner_id, created_at desc)
    where deleted_at is null;
create index models_owner_id_target_chip_live_idx on models (owner_id, target_chip)
    where deleted_at is null;
create index models_owner_id_source_live_idx on models (owner_id, source)
    where deleted_at is null;

alter table devices drop constraint devices_serial_key;
create unique index devices_serial_live_key on devices (serial)
    where deleted_at is null;
drop index devices_owner_id_idx;
create index devices_owner_id_created_at_live_idx on devices (owner_id, created_at desc)
    where deleted_at is null;

comment on column models.deleted_at is 'Soft delete: set instead of deleting the row; live rows have it null.';
comment on column devices.deleted_at is 'Soft delete: set instead of deleting the row, in the same transaction that revokes the device''s tokens.';
comment on index models_owner_id_name_live_key is 'Natural key of a live model, the conflict target of the upsert.';
comment on index devices_serial_live_key is 'A serial is unique among live devices only, so a deleted device''s serial can register again.';
