alter domain amount validate constraint amount_positive;
