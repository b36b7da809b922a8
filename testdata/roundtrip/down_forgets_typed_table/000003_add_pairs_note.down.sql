alter table pairs drop column note;
