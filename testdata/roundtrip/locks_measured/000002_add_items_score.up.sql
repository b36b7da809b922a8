ALTER TABLE items ADD COLUMN score integer DEFAULT (random() * 10)::integer;
