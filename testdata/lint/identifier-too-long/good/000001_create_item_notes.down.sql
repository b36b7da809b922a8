drop table item_notes;
