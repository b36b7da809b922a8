-- migrate:no-transaction
vacuum items;
