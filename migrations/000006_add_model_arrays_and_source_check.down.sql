comment on column models.source is 'Where the model came from.';

alter table models
    drop constraint models_source_check,
    drop constraint models_supported_chips_check,
    drop constraint models_labels_check,
    drop column supported_chips,
    drop column labels;
