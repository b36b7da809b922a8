drop index events_at_idx;
