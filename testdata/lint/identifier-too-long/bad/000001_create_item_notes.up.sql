create table item_notes (
    id bigint generated always as identity primary key,
    note_written_by_the_owner_of_the_item_when_listing_it_for_sale_today text
);
