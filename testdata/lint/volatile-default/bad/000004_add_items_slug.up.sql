-- slugify comes from no earlier migration and is none of PostgreSQL's IMMUTABLE or STABLE
-- functions: undeclared, a function is VOLATILE.
alter table items add column slug text default slugify('item');
