alter table items add column owner_name text not null;
