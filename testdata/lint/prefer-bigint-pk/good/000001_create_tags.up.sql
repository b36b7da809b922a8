create table tags (
    id       bigint generated always as identity primary key,
    label    text not null,
    position integer not null
);
