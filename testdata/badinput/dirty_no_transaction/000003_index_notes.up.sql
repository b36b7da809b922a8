-- migrate:no-transaction
CREATE INDEX CONCURRENTLY items_notes_idx ON items (notes);
