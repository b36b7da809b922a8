-- NOT VALID, then VALIDATE in the same transaction: the locks of both ADDs last until COMMIT.
alter table items add constraint items_price_positive check (price > 0) not valid;
alter table items add constraint items_owner_fkey foreign key (owner) references owners (id) not valid;
alter table items validate constraint items_price_positive;
alter table items validate constraint items_owner_fkey;
