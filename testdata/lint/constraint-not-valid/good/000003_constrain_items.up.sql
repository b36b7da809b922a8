alter table items
    add constraint items_name_check check (name <> '') not valid,
    add constraint items_owner_fkey foreign key (owner) references owners (id) not valid;
