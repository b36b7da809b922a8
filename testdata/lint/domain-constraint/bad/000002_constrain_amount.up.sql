-- Checks items.price, and every other amount column, while blocking their writes.
alter domain amount add constraint amount_positive check (value > 0);
