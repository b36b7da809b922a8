drop table owners;
drop table items;
