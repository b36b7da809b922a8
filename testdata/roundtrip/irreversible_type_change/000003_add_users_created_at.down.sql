alter table users drop column created_at;
