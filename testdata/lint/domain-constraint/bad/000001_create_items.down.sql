drop table items;
drop domain amount;
