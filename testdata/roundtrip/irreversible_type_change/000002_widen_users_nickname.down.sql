-- The mistake: the up started from varchar(20), not varchar(40).
alter table users alter column nickname type varchar(40);
