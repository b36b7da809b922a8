alter table items alter column owner type numeric(20, 0);
