-- migrate:no-transaction
drop index concurrently if exists events_2026_at_idx;
