package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"visiona-backend/internal/config"
	"visiona-backend/internal/db"
	"visiona-backend/internal/lint"
	"visiona-backend/internal/migfile"
	"visiona-backend/internal/postgres"
	"visiona-backend/internal/schema"
)

// errDrift: the live database's schema differs from the committed snapshot (migrate drift).
var errDrift = errors.New("schema drift")

// SnapshotFile is the committed schema snapshot, in the migrations folder.
const SnapshotFile = "schema.snapshot"

// proveReport is the -json document's part for prove.
type proveReport struct {
	Database string                  `json:"database"`
	Report   *schema.RoundTripReport `json:"report"`
}

// driftReport is the -json document's part for drift.
type driftReport struct {
	Snapshot string          `json:"snapshot"`
	Changes  []schema.Change `json:"changes"`
}

// prove runs the round-trip proof alone, in a throwaway database it creates on the configured
// server and drops afterwards, whatever happened: the configured database itself is only
// connected to, never changed.
func (r *runner) prove(ctx context.Context, cfg config.DB, args []string) error {
	fset := flag.NewFlagSet("prove", flag.ContinueOnError)
	fset.SetOutput(io.Discard)
	keepGoing := fset.Bool("keep-going", false, "report every migration whose down does not reverse its up")
	from := fset.Uint("from", 0, "prove only the migrations after this version")
	order := fset.String("column-order", string(schema.ColumnOrderWarn), "fail, warn or ignore a column order finding")
	if err := fset.Parse(args); err != nil {
		return usageErr("prove: %v", err)
	}
	if fset.NArg() > 0 {
		return usageErr("prove takes only -keep-going, -from V and -column-order MODE, got %q", strings.Join(fset.Args(), " "))
	}
	mode, err := schema.ParseColumnOrder(*order)
	if err != nil {
		return usageErr("prove: -column-order %q: want fail, warn or ignore", *order)
	}
	if err := cfg.Require(); err != nil {
		return err
	}
	src, err := migfile.LoadSource(r.env.Migrations)
	if err != nil {
		return err
	}
	if _, ok := src.Find(*from); *from > 0 && !ok {
		return fmt.Errorf("%w: prove -from %d: no migration has that version", db.ErrUnknownVersion, *from)
	}

	admin, err := postgres.Connect(ctx, cfg)
	if err != nil {
		return err
	}
	defer admin.Close(context.WithoutCancel(ctx))
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "visiona_prove_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return fmt.Errorf("prove: create a throwaway database on %s (the role needs CREATEDB): %w", cfg.SafeTarget(), err)
	}
	throwaway := cfg
	throwaway.Name = name
	defer func() {
		// WITH (FORCE): a connection the walk left behind must not keep the database alive.
		if _, err := admin.Exec(context.WithoutCancel(ctx), "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			fmt.Fprintf(r.env.Stderr, "migrate: warning: drop the throwaway database %s: %v\n", name, err)
		}
	}()

	w := r.env.Stdout
	if r.out.json {
		w = r.env.Stderr
	}
	fmt.Fprintf(w, "prove: in throwaway database %s on %s\n", name, cfg.SafeTarget())
	opts := []schema.RoundTripOption{schema.WithColumnOrder(mode), schema.WithFrom(*from),
		schema.WithMigratorOptions(db.WithLogger(r.log)),
		schema.WithStepFunc(func(s schema.Step) {
			if !s.Matched {
				fmt.Fprintf(w, "%-7s %06d %s: does not match\n", s.Phase, s.Version, s.Name)
			}
		})}
	if *keepGoing {
		opts = append(opts, schema.WithKeepGoing())
	}
	// The walk measures each migration's locks and rewrites; the lint's predictions say where
	// the measurement differs. Without them (a build without cgo) the measurement stands alone.
	if pred, err := lint.Predictions(src); err == nil {
		opts = append(opts, schema.WithPredictions(pred))
	} else {
		fmt.Fprintf(r.env.Stderr, "migrate: warning: prove: no lint predictions to compare the measured locks with: %v\n", err)
	}
	start := time.Now()
	report, err := schema.RoundTrip(ctx, throwaway, r.env.Migrations, opts...)
	r.out.doc.Prove = &proveReport{Database: name, Report: report}
	if report != nil {
		writeHeavy(&r.out.text, report.Locks)
		for _, f := range report.Findings {
			fmt.Fprintf(&r.out.text, "%s\n", f.Error())
		}
		for _, f := range report.Warnings {
			fmt.Fprintf(&r.out.text, "warning: column order: %s\n", f.Error())
		}
	}
	if err != nil {
		if errors.Is(err, schema.ErrNotReversible) && report != nil && len(report.Findings) > 0 {
			return fmt.Errorf("%w: %d migration(s) do not reverse (see the diffs above)", errRoundTrip, len(report.Findings))
		}
		return err
	}
	fmt.Fprintf(&r.out.text, "prove: %d migrations up, down and up again; every down reverses its up (%s; %d of %d snapshots full, %d mismatch(es) confirmed, %d the DDL log got wrong)\n",
		report.Steps, roundDuration(time.Since(start)), report.FullSnapshots, report.Snapshots, report.Confirmed, report.LogWrong)
	if len(report.Warnings) > 0 {
		fmt.Fprintf(&r.out.text, "prove: %d column order warning(s); -column-order fail makes them fail\n", len(report.Warnings))
	}
	return nil
}

// writeHeavy names the migrations the walk measured taking ACCESS EXCLUSIVE on an existing table
// or rewriting one, and where the lint predicted otherwise; the JSON document has every lock.
func writeHeavy(w io.Writer, locks []*schema.MigrationLocks) {
	if len(locks) == 0 {
		return
	}
	heavy := schema.FormatHeavy(locks)
	if heavy == "" {
		fmt.Fprintf(w, "prove: locks measured: no migration took ACCESS EXCLUSIVE on an existing table or rewrote one\n")
		return
	}
	fmt.Fprintf(w, "prove: locks measured, heavy migrations (ACCESS EXCLUSIVE on an existing table, or a rewrite) and differences from the lint:\n%s", heavy)
}

// errRoundTrip: prove found migrations that do not round-trip.
var errRoundTrip = errors.New("round trip failed")

// drift compares the configured database, which must be at the latest version, with the
// committed snapshot of the schema the migrations build.
func (r *runner) drift(ctx context.Context, m *db.Migrator, cfg config.DB, args []string) error {
	if err := noArgs("drift", args); err != nil {
		return err
	}
	path := r.env.MigrationsDir + "/" + SnapshotFile
	text, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return usageErr("drift: no %s: write it with `go run mage.go schemaDump`", path)
	}
	if err != nil {
		return err
	}
	want, err := schema.Parse(string(text))
	if err != nil {
		return fmt.Errorf("drift: %s: %w", path, err)
	}
	info, err := m.Version(ctx)
	if err != nil {
		return err
	}
	if latest := m.Source().Latest(); info.Dirty || info.Version != latest {
		return fmt.Errorf("%w: drift: %s is at version %d (dirty: %t), the snapshot is of version %d; migrate it first", db.ErrInvalidArgument, cfg.SafeTarget(), info.Version, info.Dirty, latest)
	}
	conn, err := postgres.Connect(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	got, err := schema.Take(ctx, conn)
	if err != nil {
		return err
	}
	changes := schema.Diff(want, got)
	r.out.doc.Drift = &driftReport{Snapshot: path, Changes: changes}
	if len(changes) == 0 {
		fmt.Fprintf(&r.out.text, "drift: none: %s at version %d matches %s (%d objects)\n", cfg.SafeTarget(), info.Version, path, got.Len())
		return nil
	}
	// In the diff, "left behind" is in the database and not in the snapshot, "missing" the reverse.
	fmt.Fprint(&r.out.text, strings.ReplaceAll(strings.ReplaceAll(schema.FormatDiff(changes), ": left behind\n", ": only in the database\n"), ": missing\n", ": only in the snapshot\n"))
	return fmt.Errorf("%w: %d object(s) of %s differ from %s (listed above): changed by hand, or migrated from other files", errDrift, len(changes), cfg.SafeTarget(), path)
}
