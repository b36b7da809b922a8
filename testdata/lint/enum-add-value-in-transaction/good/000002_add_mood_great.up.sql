-- migrate:no-transaction
alter type mood add value 'great' after 'happy';
