create index models_name_idx on models (name);
