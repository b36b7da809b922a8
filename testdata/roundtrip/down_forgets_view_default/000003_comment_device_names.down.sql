comment on view device_names is null;
