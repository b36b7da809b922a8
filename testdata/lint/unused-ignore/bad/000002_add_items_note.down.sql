alter table items drop column note;
