-- migrate:no-transaction
vacuum (analyze) items;
