-- items exists since 000001: this locks it against writes while the index builds.
create index items_name_idx on items (name);
