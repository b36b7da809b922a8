drop table legacy;
alter table items drop column old_name;
