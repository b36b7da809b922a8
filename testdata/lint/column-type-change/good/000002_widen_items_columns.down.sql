-- Narrowing checks every row: fine in a rollback of a change this young.
-- lint:ignore column-type-change no row is longer than 20 or larger than 10 digits: the up widened them
alter table items
    alter column code type varchar(20),
    alter column price type numeric(10, 2);
