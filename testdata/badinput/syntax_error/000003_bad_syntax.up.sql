-- 000003: a typo on line 3
CREATE TABLE widgets (id int PRIMARY KEY);
CREAT INDEX widgets_id_idx ON widgets (id);
