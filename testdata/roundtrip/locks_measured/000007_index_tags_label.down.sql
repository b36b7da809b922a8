-- migrate:no-transaction
DROP INDEX CONCURRENTLY IF EXISTS tags_label_idx;
