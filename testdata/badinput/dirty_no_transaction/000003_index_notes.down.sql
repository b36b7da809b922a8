-- migrate:no-transaction
DROP INDEX CONCURRENTLY items_notes_idx;
