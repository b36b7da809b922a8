create domain email as text check (value like '%_@_%');
