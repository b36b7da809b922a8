-- 000003: a COMMIT in the middle splits the implicit transaction
CREATE TABLE widgets (id int PRIMARY KEY);
COMMIT;
UPDATE items SET note = (1 / (id - id))::text;
