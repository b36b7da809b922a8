CREATE TABLE t1b (id int);
