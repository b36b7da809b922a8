-- The mistake: the comment is removed, the index devices_serial_idx is left behind.
comment on table devices is null;
