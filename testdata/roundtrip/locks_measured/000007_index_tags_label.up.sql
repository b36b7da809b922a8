-- migrate:no-transaction
CREATE INDEX CONCURRENTLY IF NOT EXISTS tags_label_idx ON tags (label);
