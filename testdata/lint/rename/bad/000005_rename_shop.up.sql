alter schema shop rename to store;
