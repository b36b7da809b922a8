-- A later transaction: VALIDATE takes SHARE UPDATE EXCLUSIVE (items) and ROW SHARE (owners),
-- so reads and writes go on while it scans.
alter table items validate constraint items_price_positive;
alter table items validate constraint items_owner_fkey;
