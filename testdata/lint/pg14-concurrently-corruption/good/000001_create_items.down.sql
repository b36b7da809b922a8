drop table items;
