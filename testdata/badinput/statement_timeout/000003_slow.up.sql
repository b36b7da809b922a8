CREATE TABLE widgets (id int PRIMARY KEY);
SELECT pg_sleep(5);
