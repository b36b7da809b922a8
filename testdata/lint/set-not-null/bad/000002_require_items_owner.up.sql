alter table items alter column owner set not null;
