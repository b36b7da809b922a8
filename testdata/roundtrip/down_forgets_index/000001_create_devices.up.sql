create table devices (
    id     bigint generated always as identity primary key,
    serial text not null
);
