-- On the parent only: an invalid index, instant; each partition's comes next.
create index events_at_idx on only events (at);
