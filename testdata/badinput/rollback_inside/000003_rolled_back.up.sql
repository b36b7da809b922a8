-- 000003: a ROLLBACK ends the implicit transaction; what follows is recorded as applied
CREATE TABLE widgets (id int PRIMARY KEY);
ROLLBACK;
