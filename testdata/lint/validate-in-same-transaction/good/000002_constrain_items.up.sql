alter table items add constraint items_price_positive check (price > 0) not valid;
alter table items add constraint items_owner_fkey foreign key (owner) references owners (id) not valid;
