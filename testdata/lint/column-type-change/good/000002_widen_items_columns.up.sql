-- Binary-coercible changes: no rewrite.
alter table items
    alter column code type varchar(40),
    alter column price type numeric(12, 2);
