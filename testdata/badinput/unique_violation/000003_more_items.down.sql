DELETE FROM items WHERE id IN (3, 4);
ALTER TABLE items DROP COLUMN legacy_code;
