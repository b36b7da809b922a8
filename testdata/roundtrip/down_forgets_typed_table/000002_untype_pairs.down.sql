-- The mistake: the table is left untyped (alter table pairs of pair is missing).
comment on table pairs is null;
