drop function items_note_default();
alter table items drop column note;
