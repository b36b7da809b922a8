create type mood as enum ('sad', 'ok');
