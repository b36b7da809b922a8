create type pair as (a integer, b text);
create table pairs of pair;
