-- Correct: DROP IDENTITY also drops the sequence, without telling event triggers.
alter table users alter column id drop identity;
