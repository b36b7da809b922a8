alter table items add column note text;
savepoint before_index;
create index items_note_idx on items (note);
rollback to savepoint before_index;
