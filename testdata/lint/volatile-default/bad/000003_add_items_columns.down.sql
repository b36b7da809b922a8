alter table items drop column seen_at, drop column seq, drop column num, drop column rank;
drop function next_rank();
