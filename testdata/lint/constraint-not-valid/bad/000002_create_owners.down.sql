drop table owners;
