package lint

import "slices"

// Rule is one check: its name (what a finding and a suppression name), its severity, and a one-line
// explanation fit for a table in the README.
type Rule struct {
	Name     string
	Severity Severity
	Doc      string
}

// Rule names.
const (
	ruleNotConcurrently          = "not-concurrently"
	ruleConcurrentlyInTx         = "concurrently-in-transaction"
	ruleVolatileDefault          = "volatile-default"
	ruleNotNullWithoutDefault    = "not-null-without-default"
	ruleSetNotNull               = "set-not-null"
	ruleConstraintNotValid       = "constraint-not-valid"
	ruleColumnTypeChange         = "column-type-change"
	ruleDropInUp                 = "drop-in-up"
	ruleEnumAddValueInTx         = "enum-add-value-in-transaction"
	ruleTransactionControl       = "transaction-control"
	ruleSyntaxError              = "syntax-error"
	ruleSuppressionWithoutReason = "suppression-without-reason"
	ruleUnusedSuppression        = "unused-suppression"
)

// rules is the catalogue, in the order the README lists it. "Existing table" means one the file
// did not create itself (earlier in the same file): it may hold rows in production, however empty
// it is in CI. Errors are what breaks a deploy or locks a live table; warnings deserve a look.
var rules = []Rule{
	{ruleNotConcurrently, Error, "CREATE INDEX, or ADD UNIQUE / PRIMARY KEY without USING INDEX, on an existing table: blocks writes (ADD: reads too) for the whole build. Use CREATE INDEX CONCURRENTLY in a `-- migrate:no-transaction` file of its own, then ADD CONSTRAINT ... USING INDEX."},
	{ruleConcurrentlyInTx, Error, "CREATE/DROP INDEX, REINDEX or DETACH PARTITION CONCURRENTLY in a file that runs in a transaction, or a `-- migrate:no-transaction` file with more than one statement (it runs as one query, an implicit transaction): PostgreSQL refuses it and the migration fails."},
	{ruleVolatileDefault, Error, "ADD COLUMN on an existing table whose value is computed per row: a volatile default (random(), clock_timestamp(), gen_random_uuid(), a function declared or defaulting to VOLATILE), serial, identity or a stored generated column. Rewrites the table under ACCESS EXCLUSIVE. A constant or stable default such as now() is stored once (PostgreSQL 11+) and is fine."},
	{ruleNotNullWithoutDefault, Error, "ADD COLUMN ... NOT NULL (or PRIMARY KEY) without a default on an existing table: fails as soon as the table has a row, which CI's empty database never shows. Add a default, or add the column nullable, backfill, then enforce."},
	{ruleSetNotNull, Error, "ALTER COLUMN ... SET NOT NULL on an existing table: scans the whole table under ACCESS EXCLUSIVE. First ADD CONSTRAINT ... CHECK (col IS NOT NULL) NOT VALID and VALIDATE CONSTRAINT (no exclusive lock); SET NOT NULL then skips the scan (PostgreSQL 12+)."},
	{ruleConstraintNotValid, Error, "ADD FOREIGN KEY or ADD CHECK (also inline in ADD COLUMN) on an existing table without NOT VALID: validates every row while holding a lock that blocks writes. Add it NOT VALID, then VALIDATE CONSTRAINT, preferably in a later migration."},
	{ruleColumnTypeChange, Error, "ALTER COLUMN ... TYPE on an existing table: rewrites the table and rebuilds its indexes under ACCESS EXCLUSIVE. Not reported for changes known not to rewrite (varchar(n) to a wider varchar or text, numeric(p,s) to a larger precision)."},
	{ruleDropInUp, Warning, "DROP TABLE or DROP COLUMN of an existing table in an up file: its data is gone on deploy, and the release still running may read it. Drop in a later release, once no code uses it."},
	{ruleEnumAddValueInTx, Warning, "ALTER TYPE ... ADD VALUE in a file that runs in a transaction: the new value cannot be used until the migration commits (refused outright before PostgreSQL 12). Use it in a later migration."},
	{ruleTransactionControl, Error, "BEGIN, COMMIT, ROLLBACK, SAVEPOINT and the like in a migration file: the tool runs each file in its own transaction together with its version row; a COMMIT inside would split them."},
	{ruleSyntaxError, Error, "PostgreSQL's parser rejects the file."},
	{ruleSuppressionWithoutReason, Error, "`-- lint:ignore <rule>` without a reason. The suppression is not honoured until it says why the finding does not apply."},
	{ruleUnusedSuppression, Warning, "`-- lint:ignore <rule> <reason>` that suppresses nothing in its file, or names no rule that can be suppressed."},
}

// Rules returns every rule, in the order of the documentation.
func Rules() []Rule { return slices.Clone(rules) }

func ruleByName(name string) (Rule, bool) {
	i := slices.IndexFunc(rules, func(r Rule) bool { return r.Name == name })
	if i < 0 {
		return Rule{}, false
	}
	return rules[i], true
}

// suppressible reports whether a `-- lint:ignore` comment may name the rule: the findings about
// the file itself and about suppressions cannot be silenced.
func suppressible(name string) bool {
	switch name {
	case ruleSyntaxError, ruleSuppressionWithoutReason, ruleUnusedSuppression:
		return false
	}
	_, ok := ruleByName(name)
	return ok
}
