alter table pairs not of;
