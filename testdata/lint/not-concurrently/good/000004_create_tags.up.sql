create table tags (id bigint not null, label text not null);
alter table tags rename to labels;
-- Still the table this file created, under its new name.
create index labels_label_idx on labels (label);
alter table labels add constraint labels_pkey primary key (id);
