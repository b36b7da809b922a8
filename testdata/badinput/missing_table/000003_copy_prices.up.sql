ALTER TABLE items ADD COLUMN price int;
INSERT INTO prices (item_id, price) SELECT id, 0 FROM items;
