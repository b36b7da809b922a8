drop schema shop;
drop type item_state;
drop table items;
