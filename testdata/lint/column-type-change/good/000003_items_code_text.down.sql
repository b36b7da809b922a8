-- lint:ignore column-type-change text back to the varchar(40) it was a migration ago
alter table items alter column code type varchar(40);
