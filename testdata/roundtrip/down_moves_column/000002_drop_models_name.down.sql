-- Reverses every column's definition, but name comes back last: (id, source, name).
alter table models add column name text not null default '';
alter table models alter column name drop default;
