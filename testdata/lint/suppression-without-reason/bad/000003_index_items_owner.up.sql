-- lint:ignore
create table notes (id bigint);
