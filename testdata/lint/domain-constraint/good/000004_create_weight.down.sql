drop domain weight;
