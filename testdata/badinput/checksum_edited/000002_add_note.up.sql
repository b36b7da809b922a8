ALTER TABLE items ADD COLUMN note varchar(200);
