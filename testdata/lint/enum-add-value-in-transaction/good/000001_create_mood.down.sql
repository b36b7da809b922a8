drop type mood;
