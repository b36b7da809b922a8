-- Downs drop what their up added: that is their job.
alter table items drop column note;
