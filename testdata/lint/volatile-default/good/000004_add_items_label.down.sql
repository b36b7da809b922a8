alter table items drop column label, drop column added_on;
