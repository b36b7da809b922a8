do $$ begin raise exception 'an enum value cannot be removed'; end $$;
