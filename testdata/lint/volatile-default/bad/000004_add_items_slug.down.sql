alter table items drop column slug;
