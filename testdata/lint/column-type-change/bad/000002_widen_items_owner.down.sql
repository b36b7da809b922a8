alter table items alter column owner type bigint;
