-- Created here: no column uses it yet.
create domain weight as integer;
alter domain weight add constraint weight_positive check (value > 0);
