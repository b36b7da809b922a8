drop table scratch;
