-- migrate:no-transaction
create index concurrently events_2026_at_idx on events_2026 (at);
