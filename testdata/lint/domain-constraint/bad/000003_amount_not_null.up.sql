alter domain amount set not null;
