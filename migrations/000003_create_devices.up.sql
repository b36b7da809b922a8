-- Edge devices a user registers and then pairs with the service.
create table devices (
    id         uuid        not null default gen_random_uuid(),
    owner_id   uuid        not null,
    serial     text        not null,
    name       text        not null default '',
    status     text        not null default 'unpaired',
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint devices_pkey primary key (id),
    constraint devices_owner_id_fkey foreign key (owner_id) references users (id),
    constraint devices_serial_key unique (serial),
    constraint devices_status_check check (status in ('unpaired', 'paired', 'retired'))
);

create index devices_owner_id_idx on devices (owner_id);

comment on table devices is 'Edge devices registered by users.';
comment on column devices.serial is 'Manufacturer serial number, as printed on the device.';
comment on column devices.status is 'Pairing state: unpaired, paired or retired.';
