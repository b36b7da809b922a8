-- Created in this file, so empty: ordering it costs nothing.
create table scratch (id bigint primary key);
cluster scratch using scratch_pkey;
