package store

// The in-memory models (see NewMemory).

import (
	"cmp"
	"context"
	"slices"
	"strings"

	"visiona-backend/internal/postgres"
)

type memModels struct{ *memBackend }

func cloneModel(m Model) Model {
	m.Labels, m.SupportedChips = slices.Clone(orEmpty(m.Labels)), slices.Clone(orEmpty(m.SupportedChips))
	return m
}

func (s memModels) Upsert(ctx context.Context, in ModelInput) (UpsertResult, error) {
	const op = "upsert model"
	return inTx(s.memBackend, ctx, op, func() (UpsertResult, error) {
		owner, ok := canonicalID(in.OwnerID)
		if !ok {
			return UpsertResult{}, newError(op, postgres.ErrForeignKey, msgOwnerNotFound)
		}
		if !validSource(in.Source) {
			return UpsertResult{}, newError(op, postgres.ErrCheck, msgSourceInvalid)
		}
		if _, ok := s.users[owner]; !ok {
			return UpsertResult{}, newError(op, postgres.ErrForeignKey, msgOwnerNotFound)
		}
		next := Model{OwnerID: owner, Name: in.Name, TargetChip: in.TargetChip, Source: in.Source,
			FAAObjectKey: in.FAAObjectKey, Labels: orEmpty(in.Labels), SupportedChips: orEmpty(in.SupportedChips)}
		now := s.opts.clock()
		for id, cur := range s.models {
			if cur.deleted || cur.OwnerID != owner || cur.Name != in.Name {
				continue
			}
			res := UpsertResult{Replaced: true, PreviousObjectKey: cur.FAAObjectKey}
			next.ID, next.CreatedAt, next.UpdatedAt = id, cur.CreatedAt, cur.UpdatedAt
			// Like the updated_at trigger: only a change moves it.
			if !modelEqual(cur.Model, next) {
				next.UpdatedAt = now
			}
			s.models[id] = memModel{Model: cloneModel(next)}
			res.Model = cloneModel(next)
			return res, nil
		}
		next.ID, next.CreatedAt, next.UpdatedAt = newUUID(), now, now
		s.models[next.ID] = memModel{Model: cloneModel(next)}
		return UpsertResult{Model: cloneModel(next)}, nil
	})
}

func modelEqual(a, b Model) bool {
	return a.TargetChip == b.TargetChip && a.Source == b.Source && a.FAAObjectKey == b.FAAObjectKey &&
		slices.Equal(a.Labels, b.Labels) && slices.Equal(a.SupportedChips, b.SupportedChips)
}

func (s memModels) Get(ctx context.Context, id string) (Model, error) {
	const op = "get model"
	return inTx(s.memBackend, ctx, op, func() (Model, error) {
		id, _ = canonicalID(id)
		m, ok := s.models[id]
		if !ok || m.deleted {
			return Model{}, newError(op, postgres.ErrNotFound, msgModelNotFound)
		}
		return cloneModel(m.Model), nil
	})
}

func (s memModels) List(ctx context.Context, f ModelFilter) ([]Model, error) {
	const op = "list models"
	return inTx(s.memBackend, ctx, op, func() ([]Model, error) {
		owner := f.OwnerID
		if owner != "" {
			var ok bool
			if owner, ok = canonicalID(owner); !ok {
				return []Model{}, nil
			}
		}
		out := []Model{}
		for _, m := range s.models {
			switch {
			case m.deleted,
				owner != "" && m.OwnerID != owner,
				f.TargetChip != "" && m.TargetChip != f.TargetChip,
				f.SupportedChip != "" && !slices.Contains(m.SupportedChips, f.SupportedChip),
				f.Source != "" && m.Source != f.Source:
				continue
			}
			out = append(out, cloneModel(m.Model))
		}
		// created_at desc, id desc: the database's order.
		slices.SortFunc(out, func(a, b Model) int {
			return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), strings.Compare(b.ID, a.ID))
		})
		if f.Limit > 0 && len(out) > f.Limit {
			out = out[:f.Limit]
		}
		return out, nil
	})
}

func (s memModels) SoftDelete(ctx context.Context, id string) error {
	const op = "delete model"
	return inTxErr(s.memBackend, ctx, op, func() error {
		id, _ = canonicalID(id)
		m, ok := s.models[id]
		if !ok || m.deleted {
			return newError(op, postgres.ErrNotFound, msgModelNotFound)
		}
		m.deleted = true
		s.models[id] = m
		return nil
	})
}
