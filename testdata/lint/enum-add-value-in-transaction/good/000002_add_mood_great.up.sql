-- migrate:no-transaction
alter type mood add value if not exists 'great' after 'happy';
