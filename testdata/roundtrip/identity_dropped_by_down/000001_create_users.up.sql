create table users (id bigint not null, email text not null);
