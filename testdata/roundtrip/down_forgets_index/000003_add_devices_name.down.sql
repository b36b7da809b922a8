alter table devices drop column name;
