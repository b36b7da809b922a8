alter table items add column token uuid not null default gen_random_uuid();
