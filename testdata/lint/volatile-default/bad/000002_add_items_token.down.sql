alter table items drop column token;
