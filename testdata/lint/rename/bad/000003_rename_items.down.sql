alter table products rename to items;
