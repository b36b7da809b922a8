drop trigger devices_set_updated_at on devices;
drop trigger models_set_updated_at on models;
drop trigger users_set_updated_at on users;

drop function set_updated_at();
