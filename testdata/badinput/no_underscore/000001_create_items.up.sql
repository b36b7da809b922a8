CREATE TABLE items (id int PRIMARY KEY, code text NOT NULL UNIQUE);
INSERT INTO items (id, code) VALUES (1, 'a'), (2, 'b');
