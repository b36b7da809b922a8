-- CONCURRENTLY does not work on a partitioned table.
create index events_at_idx on events (at);
