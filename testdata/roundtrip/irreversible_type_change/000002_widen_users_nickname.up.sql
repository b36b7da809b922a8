alter table users alter column nickname type text;
