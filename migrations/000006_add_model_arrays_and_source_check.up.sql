-- Catalog fields of a model, and a closed list of sources.
-- Arrays are NOT NULL DEFAULT '{}' so code never has to tell NULL from empty,
-- and may not contain NULL elements.
alter table models
    add column labels text[] not null default '{}',
    add column supported_chips text[] not null default '{}',
    add constraint models_labels_check check (array_position(labels, null) is null),
    add constraint models_supported_chips_check check (array_position(supported_chips, null) is null),
    -- A new source is a new migration that drops and re-adds this constraint.
    add constraint models_source_check check (source in ('upload', 'import', 'builtin'));

-- No index on supported_chips: "which of my models run on chip X" is asked
-- within one owner's live models (where owner_id = $1 and deleted_at is null
-- and supported_chips @> array[$2]), which models_owner_id_created_at_live_idx
-- already narrows to a few rows. A GIN index pays off only once a query
-- searches across owners.

comment on column models.source is 'Where the model came from: upload (file uploaded by the user), import (fetched by the service from an external location) or builtin (shipped with visionA).';
comment on column models.labels is 'Class labels the model outputs, in output order.';
comment on column models.supported_chips is 'Every chip that can run the model file (target_chip included).';
