ALTER TABLE items ADD COLUMN price int;
