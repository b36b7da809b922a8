alter table items add column note text;
-- A scratch table of this file: nothing to lose.
create table scratch (id bigint);
drop table scratch;
