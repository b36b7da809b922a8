alter table items alter column code type text;
