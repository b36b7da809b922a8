-- migrate:no-transaction
drop index concurrently events_2026_at_idx;
