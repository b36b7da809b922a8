-- Renamed in the file that created it: no client knows the old name.
create table draft (id bigint primary key, body text);
alter table draft rename to drafts;
alter table drafts rename column body to text_body;
