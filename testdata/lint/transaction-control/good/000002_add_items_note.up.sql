-- The tool wraps the file in a transaction itself.
alter table items add column note text;
create function items_note_default() returns trigger language plpgsql as $$
begin
    new.note := coalesce(new.note, '');
    return new;
end;
$$;
