-- AI models uploaded by users. A model is identified for upsert by its owner
-- and name: uploading a model under a name the owner already uses replaces it.
create table models (
    id             uuid        not null default gen_random_uuid(),
    owner_id       uuid        not null,
    name           text        not null,
    target_chip    text        not null,
    source         text        not null,
    faa_object_key text        not null,
    created_at     timestamptz not null default now(),
    updated_at     timestamptz not null default now(),
    constraint models_pkey primary key (id),
    constraint models_owner_id_fkey foreign key (owner_id) references users (id),
    constraint models_owner_id_name_key unique (owner_id, name)
);

comment on table models is 'AI models owned by users; the model file itself lives in object storage.';
comment on column models.target_chip is 'Chip the model file was compiled for.';
comment on column models.source is 'Where the model came from.';
comment on column models.faa_object_key is 'Object-storage key of the model file.';
comment on column models.created_at is 'First upload; an upsert of the same (owner_id, name) must keep it.';
