drop view device_names;
drop table devices;
