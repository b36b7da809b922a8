alter table items alter column owner drop not null;
