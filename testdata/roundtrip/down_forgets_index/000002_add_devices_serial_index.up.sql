create index devices_serial_idx on devices (serial);
comment on table devices is 'Edge devices, looked up by serial.';
