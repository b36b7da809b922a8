drop table labels;
