create type mood as enum ('sad', 'ok');
-- Created in this same transaction: the new value is usable at once.
alter type mood add value 'happy';
