-- Café: a multibyte character before the error must not shift its column.
create table items (id bigint primary key);
create tabel notes (id bigint);
