create table devices (id bigint primary key, name text not null);
create view device_names as select id, name from devices;
