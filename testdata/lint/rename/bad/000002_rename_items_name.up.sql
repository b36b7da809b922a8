alter table items rename column name to title;
