drop table models;
