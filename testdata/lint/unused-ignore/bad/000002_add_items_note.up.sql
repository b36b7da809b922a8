-- lint:ignore set-not-null items is small
-- lint:ignore no-such-rule a typo
-- lint:ignore syntax-error the parser is wrong
alter table items add column note text;
