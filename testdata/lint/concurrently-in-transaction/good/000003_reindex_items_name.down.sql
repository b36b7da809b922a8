-- Nothing to reverse: a rebuilt index is the same index.
reindex (concurrently false) index items_name_idx;
