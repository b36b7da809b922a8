alter table models drop column name;
