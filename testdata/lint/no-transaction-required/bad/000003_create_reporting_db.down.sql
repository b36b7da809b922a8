drop database reporting;
