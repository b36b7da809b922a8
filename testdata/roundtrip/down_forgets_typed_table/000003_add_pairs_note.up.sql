alter table pairs add column note text;
