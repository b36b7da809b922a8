CREATE TABLE widgets (id int PRIMARY KEY);
UPDATE items SET note = (1 / (id - id))::text;
