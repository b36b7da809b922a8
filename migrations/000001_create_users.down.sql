-- Dropping the table drops its index, constraints and comments with it.
drop table users;
