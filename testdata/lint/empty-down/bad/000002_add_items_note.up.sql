alter table items add column note text;
