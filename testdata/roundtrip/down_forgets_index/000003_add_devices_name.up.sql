alter table devices add column name text not null default '';
