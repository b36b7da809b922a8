-- Validation cannot be undone, and needs not be: the constraints stay.
select 1;
