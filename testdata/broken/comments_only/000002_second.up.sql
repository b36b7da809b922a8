-- 000002_second: to be written

