truncate owners cascade;
