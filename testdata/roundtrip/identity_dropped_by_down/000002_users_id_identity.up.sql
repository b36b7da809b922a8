alter table users alter column id add generated always as identity;
