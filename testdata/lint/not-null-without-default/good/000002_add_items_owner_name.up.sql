alter table items
    add column owner_name text not null default '',
    add column note text;
