-- PostgreSQL's own immutable and stable functions are stored once too.
alter table items
    add column label text not null default upper(md5('item')),
    add column added_on date not null default current_date;
