alter domain amount drop not null;
