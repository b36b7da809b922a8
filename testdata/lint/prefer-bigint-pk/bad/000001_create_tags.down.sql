drop table colors;
drop table tags;
