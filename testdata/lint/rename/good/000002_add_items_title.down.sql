alter table items drop column title;
