alter table items rename to products;
