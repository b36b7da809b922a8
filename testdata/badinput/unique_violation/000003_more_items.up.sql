ALTER TABLE items ADD COLUMN legacy_code text;
-- a data migration that collides with a row already there
INSERT INTO items (id, code) VALUES (3, 'c'), (4, 'a');
