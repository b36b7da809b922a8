alter table items drop column owner_name;
