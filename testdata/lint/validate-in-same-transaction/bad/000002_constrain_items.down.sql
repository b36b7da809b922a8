alter table items drop constraint items_owner_fkey, drop constraint items_price_positive;
