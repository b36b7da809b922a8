-- migrate:no-transaction
create index concurrently if not exists events_2026_at_idx on events_2026 (at);
