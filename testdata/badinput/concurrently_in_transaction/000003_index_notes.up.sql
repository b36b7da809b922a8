CREATE INDEX CONCURRENTLY items_note_idx ON items (note);
