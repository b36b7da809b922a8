create table item_notes (
    id bigint generated always as identity primary key,
    owner_listing_note text
);
-- Text in a string is not an identifier.
comment on column item_notes.owner_listing_note is 'note_written_by_the_owner_of_the_item_when_listing_it_for_sale_today_note_written_by_the_owner_of_the_item_when_listing_it_for_sale_today';
