drop table pairs;
drop type pair;
