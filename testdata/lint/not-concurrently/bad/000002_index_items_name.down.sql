drop index items_name_idx;
