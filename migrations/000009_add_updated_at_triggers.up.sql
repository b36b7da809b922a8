-- updated_at is maintained by the database, so no code path can forget it.
-- The WHEN clause skips updates that change nothing (e.g. an idempotent upsert).
create function set_updated_at() returns trigger
    language plpgsql
as $$
begin
    new.updated_at := now();
    return new;
end;
$$;

comment on function set_updated_at() is 'Trigger function: sets updated_at to the transaction time on every row update that changes something.';

create trigger users_set_updated_at
    before update on users
    for each row
    when (old.* is distinct from new.*)
    execute function set_updated_at();

create trigger models_set_updated_at
    before update on models
    for each row
    when (old.* is distinct from new.*)
    execute function set_updated_at();

create trigger devices_set_updated_at
    before update on devices
    for each row
    when (old.* is distinct from new.*)
    execute function set_updated_at();
