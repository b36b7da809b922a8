create index models_source_idx on models (source);
