-- The new column beside the old one; the code writes both, then reads title.
alter table items add column title text;
