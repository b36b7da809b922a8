drop domain email;
