drop index models_name_idx;
