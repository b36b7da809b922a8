drop table currencies;
