drop index models_source_idx;
