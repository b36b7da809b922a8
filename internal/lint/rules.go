package lint

import "slices"

// Rule is one check: its name (what a finding and a suppression name), its severity, and a one-line
// explanation fit for a table in the README.
type Rule struct {
	Name     string   `json:"name"`
	Severity Severity `json:"severity"`
	Doc      string   `json:"doc"`
}

// Rule names.
const (
	ruleNotConcurrently          = "not-concurrently"
	ruleConcurrentlyInTx         = "concurrently-in-transaction"
	ruleNoTransactionRequired    = "no-transaction-required"
	ruleVolatileDefault          = "volatile-default"
	ruleNotNullWithoutDefault    = "not-null-without-default"
	ruleSetNotNull               = "set-not-null"
	ruleConstraintNotValid       = "constraint-not-valid"
	ruleValidateInSameTx         = "validate-in-same-transaction"
	ruleColumnTypeChange         = "column-type-change"
	ruleDomainConstraint         = "domain-constraint"
	ruleCreateDomainCheck        = "create-domain-check"
	ruleVacuumFullOrCluster      = "vacuum-full-or-cluster"
	ruleTruncateCascade          = "truncate-cascade"
	ruleRename                   = "rename"
	ruleDropInUp                 = "drop-in-up"
	ruleEnumAddValueInTx         = "enum-add-value-in-transaction"
	ruleNoTxIfExists             = "no-transaction-if-exists"
	ruleIdentifierTooLong        = "identifier-too-long"
	rulePreferJSONB              = "prefer-jsonb"
	rulePreferTimestamptz        = "prefer-timestamptz"
	rulePreferText               = "prefer-text"
	rulePreferBigintPK           = "prefer-bigint-pk"
	rulePG14Concurrently         = "pg14-concurrently-corruption"
	ruleTransactionControl       = "transaction-control"
	ruleSyntaxError              = "syntax-error"
	ruleParserOlder              = "parser-older-than-syntax"
	ruleSuppressionWithoutReason = "suppression-without-reason"
	ruleUnusedIgnore             = "unused-ignore"
	ruleStrictName               = "strict-name"
)

// rules is the catalogue, in the order the README lists it. "Existing table" means one the file
// did not create itself (earlier in the same file): it may hold rows in production, however empty
// it is in CI. Errors are what breaks a deploy or locks a live table; warnings deserve a look.
var rules = []Rule{
	{ruleNotConcurrently, Error, "CREATE INDEX, ADD UNIQUE / PRIMARY KEY without USING INDEX, REINDEX, DROP INDEX or DETACH PARTITION without CONCURRENTLY, on an existing table: CREATE INDEX blocks writes (SHARE lock) for the whole build; ADD CONSTRAINT, REINDEX TABLE/INDEX (SHARE, plus ACCESS EXCLUSIVE on the index), DROP INDEX and DETACH PARTITION take ACCESS EXCLUSIVE, which also queues every read behind them. Use the CONCURRENTLY form in a `-- migrate:no-transaction` file of its own, then ADD CONSTRAINT ... USING INDEX."},
	{ruleConcurrentlyInTx, Error, "CREATE/DROP INDEX, REINDEX or DETACH PARTITION CONCURRENTLY in a file that runs in a transaction, or a `-- migrate:no-transaction` file with more than one statement (it runs as one query, an implicit transaction): PostgreSQL refuses it and the migration fails."},
	{ruleNoTransactionRequired, Error, "VACUUM, CLUSTER without a table, REINDEX SCHEMA / DATABASE / SYSTEM, CREATE / DROP DATABASE, CREATE / DROP TABLESPACE or ALTER SYSTEM in a file that runs in a transaction: PostgreSQL refuses each inside a transaction block, so the migration fails. Put it alone in a `-- migrate:no-transaction` file (and ask whether a migration should run it at all)."},
	{ruleVolatileDefault, Error, "ADD COLUMN on an existing table whose value is computed per row: a volatile default (random(), clock_timestamp(), gen_random_uuid(), nextval(), a function a migration created without IMMUTABLE or STABLE, or any function the lint does not know), serial, identity or a stored generated column; before PostgreSQL 11, any default. Rewrites the table under ACCESS EXCLUSIVE. A constant or stable default such as now() is stored once (PostgreSQL 11+) and is fine."},
	{ruleNotNullWithoutDefault, Error, "ADD COLUMN ... NOT NULL (or PRIMARY KEY) without a default on an existing table: fails as soon as the table has a row, which CI's empty database never shows. Add a default, or add the column nullable, backfill, then enforce."},
	{ruleSetNotNull, Error, "ALTER COLUMN ... SET NOT NULL on an existing table: scans the whole table under ACCESS EXCLUSIVE. First ADD CONSTRAINT ... CHECK (col IS NOT NULL) NOT VALID and VALIDATE CONSTRAINT (no exclusive lock); SET NOT NULL then skips the scan (PostgreSQL 12+). On PostgreSQL 18, ADD CONSTRAINT ... NOT NULL col NOT VALID then VALIDATE does it in one constraint."},
	{ruleConstraintNotValid, Error, "ADD FOREIGN KEY or ADD CHECK (also inline in ADD COLUMN) on an existing table without NOT VALID: validates every row while holding its lock (CHECK: ACCESS EXCLUSIVE; FOREIGN KEY: SHARE ROW EXCLUSIVE on both tables, blocking their writes). Add it NOT VALID, then VALIDATE CONSTRAINT in a later migration."},
	{ruleValidateInSameTx, Error, "VALIDATE CONSTRAINT in the same transactional file that added the constraint NOT VALID: the ADD's lock (ACCESS EXCLUSIVE for CHECK, SHARE ROW EXCLUSIVE on both tables for a FOREIGN KEY) is held until COMMIT, so through the whole validation scan, and NOT VALID gained nothing. Validate in a later migration."},
	{ruleColumnTypeChange, Error, "ALTER COLUMN ... TYPE on an existing table: rewrites the table and rebuilds its indexes under ACCESS EXCLUSIVE. Not reported for changes known not to rewrite (varchar(n) to a wider varchar or text, numeric(p,s) to a larger precision)."},
	{ruleDomainConstraint, Error, "ALTER DOMAIN ... ADD CONSTRAINT without NOT VALID, or ALTER DOMAIN ... SET NOT NULL: checks every row of every column of that domain, in every table, while holding a SHARE lock on each (no writes). Add the constraint NOT VALID, then VALIDATE CONSTRAINT in a later migration; better, use table CHECK constraints."},
	{ruleCreateDomainCheck, Warning, "CREATE DOMAIN with a CHECK: the domain is cheap today, but every later change to its constraints re-checks every column that uses it, across tables, and a domain's constraint cannot be changed in place. A CHECK on each table's column can be changed the safe way (NOT VALID, VALIDATE)."},
	{ruleVacuumFullOrCluster, Error, "VACUUM FULL or CLUSTER: rewrites the whole table under ACCESS EXCLUSIVE (no reads, no writes) for as long as the copy takes. Not a migration's job: run plain VACUUM, or pg_repack, in maintenance."},
	{ruleTruncateCascade, Error, "TRUNCATE ... CASCADE: also empties every table that references it by foreign key, recursively, each under ACCESS EXCLUSIVE; which tables that is depends on the schema on the day it runs. Name every table to empty, without CASCADE."},
	{ruleRename, Error, "RENAME of an existing table or column, of an enum value, or of a schema, in an up file: the release still running uses the old name and fails from the moment the migration commits. Deploy order that works: for a column, add the new one, deploy code that writes both and reads the new one, backfill, then drop the old one in a later release; for a table, rename it and create a view with the old name in the same migration, deploy the code that uses the new name, drop the view later; for an enum value, ADD VALUE the new one, deploy code that writes it, migrate the rows, stop using the old one; for a schema, the same through a view per table or a search_path change."},
	{ruleDropInUp, Warning, "DROP TABLE or DROP COLUMN of an existing table in an up file: its data is gone on deploy, and the release still running may read it. Drop in a later release, once no code uses it."},
	{ruleEnumAddValueInTx, Warning, "ALTER TYPE ... ADD VALUE in a file that runs in a transaction: the new value cannot be used until the migration commits (refused outright before PostgreSQL 12). Use it in a later migration."},
	{ruleNoTxIfExists, Error, "In a `-- migrate:no-transaction` file, CREATE without IF NOT EXISTS or DROP without IF EXISTS (index, table, column, enum value, ...): nothing rolls a failed run back, so whatever it did before failing is still there and the retry fails on it. A CREATE INDEX CONCURRENTLY that failed leaves an INVALID index: drop it (DROP INDEX CONCURRENTLY IF EXISTS) before retrying."},
	{ruleIdentifierTooLong, Error, "An identifier longer than 63 bytes: PostgreSQL silently truncates it (NAMEDATALEN), so the object gets another name than the one written, and a later migration or query naming it in full refers to something else or to nothing."},
	{rulePreferJSONB, Warning, "A `json` column: stored as text, re-parsed by every operator, no equality (so no DISTINCT, GROUP BY or unique index), no GIN index. Use jsonb."},
	{rulePreferTimestamptz, Warning, "A `timestamp` (without time zone) column: stores wall-clock time with no zone, so the same instant reads differently from servers and sessions in other zones. Use timestamptz (what visionA's schema uses)."},
	{rulePreferText, Warning, "A `char(n)` column: pads with spaces, compares ignoring them, and is no faster than text. Use text, with a CHECK on length(...) if the length matters."},
	{rulePreferBigintPK, Warning, "An integer, smallint or serial primary key: runs out at 2^31 (32767 for smallint) rows inserted, and widening it to bigint then rewrites the table and every referencing one. Use bigint GENERATED ALWAYS AS IDENTITY, or uuid."},
	{rulePG14Concurrently, Error, "CREATE INDEX CONCURRENTLY or REINDEX CONCURRENTLY when the target server (VISIONA_DB_SERVER_VERSION) is PostgreSQL 14.0 to 14.3: those releases can build an index that misses rows written during the build (fixed in 14.4). Upgrade the server to the latest 14.x first; an index built there should be checked with amcheck and rebuilt."},
	{ruleTransactionControl, Error, "BEGIN, COMMIT, ROLLBACK, SAVEPOINT and the like in a migration file that runs in a transaction: the tool runs each such file in its own transaction together with its version row; a COMMIT inside would split them. Not reported in a `-- migrate:no-transaction` file, where the tool opens no transaction."},
	{ruleSyntaxError, Error, "PostgreSQL's parser rejects the file, or the file uses syntax newer than the target server (VISIONA_DB_SERVER_VERSION) accepts."},
	{ruleParserOlder, Warning, "The lint's parser (PostgreSQL 17's, from pg_query_go v6) rejects syntax that a newer PostgreSQL accepts, such as 18's `CONSTRAINT name NOT NULL col` or VIRTUAL generated columns: the file is not linted. The warning names both versions; running the migration against the target (TestDB) proves it."},
	{ruleSuppressionWithoutReason, Error, "`-- lint:ignore <rule>` (or `lint:ignore-file`) without a reason. The suppression is not honoured until it says why the finding does not apply."},
	{ruleStrictName, Warning, "A migration file whose name is not the form `migrate create` writes, `<version>_<title>.up.sql` / `.down.sql` with a title of lowercase letters, digits and underscores (golang-migrate also accepts `20190226002946_create-user.up.sql` or `Create_User`, and so does the tool, for existing histories). Names in one form read, sort and grep alike everywhere, and do not clash on case-insensitive file systems. Only new files are reported: those after the baseline of `lint.conf`. A file cannot suppress it; rename the file before it is applied anywhere."},
	{ruleUnusedIgnore, Error, "`-- lint:ignore <rule> <reason>` that suppresses nothing (its statement, or for `lint:ignore-file` its file, has no such finding), or names no rule that can be suppressed. A stale ignore would silence the next real finding."},
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
	case ruleSyntaxError, ruleParserOlder, ruleSuppressionWithoutReason, ruleUnusedIgnore, ruleStrictName:
		return false
	}
	_, ok := ruleByName(name)
	return ok
}
