-- The mistake: labels was created by 000001, not by this migration's up.
alter table models
    drop column source,
    drop column labels;
