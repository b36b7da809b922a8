comment on view device_names is 'Names.';
