alter view device_names alter column name set default 'unnamed';
