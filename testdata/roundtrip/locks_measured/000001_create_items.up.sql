CREATE TABLE items (
    id integer PRIMARY KEY,
    name text NOT NULL,
    addr cidr
);
INSERT INTO items (id, name, addr) SELECT g, 'item ' || g, '10.0.0.0/8' FROM generate_series(1, 100) g;
