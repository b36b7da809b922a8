alter table models add column source text not null default 'upload';
