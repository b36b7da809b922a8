-- Every table to empty, by name.
truncate items, owners;
