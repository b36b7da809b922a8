alter table items drop column created_at, drop column state, drop column tags, drop column rank, drop column token;
drop function default_rank();
