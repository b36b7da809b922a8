/* TODO: drop the column */
;
