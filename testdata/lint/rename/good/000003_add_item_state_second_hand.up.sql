-- migrate:no-transaction
alter type item_state add value if not exists 'second_hand';
