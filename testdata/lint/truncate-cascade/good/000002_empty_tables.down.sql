-- Nothing to reverse.
select 1;
