-- reverses 000002 (with a typo on line 2)
ALTER TABLE items DROPP COLUMN note;
