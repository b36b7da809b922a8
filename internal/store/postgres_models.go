package store

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"visiona-backend/internal/postgres"
)

type pgModels struct{ *pgBackend }

const modelColumns = `id, owner_id, name, target_chip, source, faa_object_key, labels, supported_chips, created_at, updated_at`

func scanModel(row pgx.Row) (Model, error) {
	var m Model
	var source string
	err := row.Scan(&m.ID, &m.OwnerID, &m.Name, &m.TargetChip, &source, &m.FAAObjectKey,
		&m.Labels, &m.SupportedChips, &m.CreatedAt, &m.UpdatedAt)
	m.Source = Source(source)
	m.Labels, m.SupportedChips = orEmpty(m.Labels), orEmpty(m.SupportedChips)
	m.CreatedAt, m.UpdatedAt = utc(m.CreatedAt), utc(m.UpdatedAt)
	return m, err
}

func explainModelWrite(e *postgres.Error) string {
	switch e.Constraint {
	case "models_owner_id_fkey":
		return msgOwnerNotFound
	case "models_source_check":
		return msgSourceInvalid
	}
	return notNull(e)
}

// upsertModelSQL is the statement of docs/database.md ("Model upsert"), unchanged: its conflict
// target names the partial unique index's predicate, and it never sets created_at, id, owner_id
// or deleted_at (updated_at is the trigger's).
const upsertModelSQL = `
insert into models (owner_id, name, target_chip, source, faa_object_key, labels, supported_chips)
values ($1, $2, $3, $4, $5, $6, $7)
on conflict (owner_id, name) where deleted_at is null do update
   set target_chip     = excluded.target_chip,
       source          = excluded.source,
       faa_object_key  = excluded.faa_object_key,
       labels          = excluded.labels,
       supported_chips = excluded.supported_chips
returning id, created_at, updated_at;`

// upsertAttempts bounds the retries of an upsert that raced with the first upload of the same
// name (see upsertOnce).
const upsertAttempts = 3

// errUpsertRaced: upsertOnce replaced a row it had not seen, so it cannot report the replaced
// object key; the transaction is rolled back and tried again.
var errUpsertRaced = errors.New("upsert raced with a concurrent first upload")

func (s pgModels) Upsert(ctx context.Context, in ModelInput) (UpsertResult, error) {
	const op = "upsert model"
	owner, ok := canonicalID(in.OwnerID)
	if !ok {
		return UpsertResult{}, newError(op, postgres.ErrForeignKey, msgOwnerNotFound)
	}
	in.OwnerID, in.Labels, in.SupportedChips = owner, orEmpty(in.Labels), orEmpty(in.SupportedChips)
	for attempt := 1; ; attempt++ {
		res, err := s.upsertOnce(ctx, in)
		if errors.Is(err, errUpsertRaced) && attempt < upsertAttempts {
			continue
		}
		if errors.Is(err, errUpsertRaced) {
			return UpsertResult{}, newError(op, postgres.ErrRetryable, "the model was being uploaded concurrently; try again")
		}
		if err != nil {
			return UpsertResult{}, fail(op, err, explainModelWrite)
		}
		return res, nil
	}
}

// upsertOnce reads the live model's object key (locking the row) and runs the documented upsert,
// in one transaction, so the key it reports is the one the upsert replaced. When there was no
// live row to lock, a concurrent transaction may still insert one before our insert, which then
// takes the "do update" path and replaces a key we never read. That case is recognised by
// created_at: a row we inserted has our transaction's now(); one we replaced has the other's.
func (s pgModels) upsertOnce(ctx context.Context, in ModelInput) (UpsertResult, error) {
	res := UpsertResult{Model: Model{
		OwnerID: in.OwnerID, Name: in.Name, TargetChip: in.TargetChip, Source: in.Source,
		FAAObjectKey: in.FAAObjectKey, Labels: in.Labels, SupportedChips: in.SupportedChips,
	}}
	err := postgres.WithTx(ctx, s.q, func(tx pgx.Tx) error {
		var txNow time.Time
		err := tx.QueryRow(ctx, `
select faa_object_key, now() from models
 where owner_id = $1 and name = $2 and deleted_at is null
   for update`, in.OwnerID, in.Name).Scan(&res.PreviousObjectKey, &txNow)
		switch {
		case err == nil:
			res.Replaced = true
		case errors.Is(err, pgx.ErrNoRows):
			if err := tx.QueryRow(ctx, `select now()`).Scan(&txNow); err != nil {
				return err
			}
		default:
			return err
		}
		m := &res.Model
		if err := tx.QueryRow(ctx, upsertModelSQL, in.OwnerID, in.Name, in.TargetChip, string(in.Source),
			in.FAAObjectKey, in.Labels, in.SupportedChips).Scan(&m.ID, &m.CreatedAt, &m.UpdatedAt); err != nil {
			return err
		}
		if !res.Replaced && !m.CreatedAt.Equal(txNow) {
			return errUpsertRaced
		}
		m.CreatedAt, m.UpdatedAt = utc(m.CreatedAt), utc(m.UpdatedAt)
		return nil
	})
	return res, err
}

func (s pgModels) Get(ctx context.Context, id string) (Model, error) {
	const op = "get model"
	id, ok := canonicalID(id)
	if !ok {
		return Model{}, newError(op, postgres.ErrNotFound, msgModelNotFound)
	}
	m, err := scanModel(s.q.QueryRow(ctx, `select `+modelColumns+` from models where id = $1 and deleted_at is null`, id))
	if err != nil {
		return Model{}, fail(op, err, notFound(msgModelNotFound))
	}
	return m, nil
}

// List builds its where clause from the filter's set fields; with an owner, each filter is
// served by one of the partial (owner_id, ...) indexes over live rows.
func (s pgModels) List(ctx context.Context, f ModelFilter) ([]Model, error) {
	const op = "list models"
	where := []string{"deleted_at is null"}
	var args []any
	add := func(cond string, arg any) {
		args = append(args, arg)
		where = append(where, strings.ReplaceAll(cond, "$?", "$"+strconv.Itoa(len(args))))
	}
	if f.OwnerID != "" {
		owner, ok := canonicalID(f.OwnerID)
		if !ok {
			return []Model{}, nil // no model has an owner that is not a uuid
		}
		add("owner_id = $?", owner)
	}
	if f.TargetChip != "" {
		add("target_chip = $?", f.TargetChip)
	}
	if f.SupportedChip != "" {
		add("supported_chips @> array[$?::text]", f.SupportedChip)
	}
	if f.Source != "" {
		add("source = $?", string(f.Source))
	}
	sql := `select ` + modelColumns + ` from models where ` + strings.Join(where, " and ") +
		` order by created_at desc, id desc`
	if f.Limit > 0 {
		sql += " limit " + strconv.Itoa(f.Limit)
	}
	rows, err := s.q.Query(ctx, sql, args...)
	if err != nil {
		return nil, fail(op, err, nil)
	}
	models, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Model, error) { return scanModel(row) })
	if err != nil {
		return nil, fail(op, err, nil)
	}
	return models, nil
}

func (s pgModels) SoftDelete(ctx context.Context, id string) error {
	const op = "delete model"
	id, ok := canonicalID(id)
	if !ok {
		return newError(op, postgres.ErrNotFound, msgModelNotFound)
	}
	tag, err := s.q.Exec(ctx, `update models set deleted_at = now() where id = $1 and deleted_at is null`, id)
	if err != nil {
		return fail(op, err, nil)
	}
	if tag.RowsAffected() == 0 {
		return newError(op, postgres.ErrNotFound, msgModelNotFound)
	}
	return nil
}
