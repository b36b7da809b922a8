-- The mistake: the view column's default stays.
comment on view device_names is null;
