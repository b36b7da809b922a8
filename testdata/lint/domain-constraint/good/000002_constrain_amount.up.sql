alter domain amount add constraint amount_positive check (value > 0) not valid;
