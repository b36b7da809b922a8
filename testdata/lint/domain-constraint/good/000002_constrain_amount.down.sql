alter domain amount drop constraint amount_positive;
