alter table items rename column title to name;
