-- migrate:no-transaction
vacuum full items;
