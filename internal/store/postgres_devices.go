package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"visiona-backend/internal/postgres"
)

type pgDevices struct{ *pgBackend }

const deviceColumns = `id, owner_id, serial, name, lifecycle_state, connection_state, last_seen_at, created_at, updated_at`

func scanDevice(row pgx.Row) (Device, error) {
	var d Device
	var lifecycle, connection string
	var lastSeen *time.Time
	err := row.Scan(&d.ID, &d.OwnerID, &d.Serial, &d.Name, &lifecycle, &connection, &lastSeen, &d.CreatedAt, &d.UpdatedAt)
	d.Lifecycle, d.Connection, d.LastSeenAt = LifecycleState(lifecycle), ConnectionState(connection), utcOrZero(lastSeen)
	d.CreatedAt, d.UpdatedAt = utc(d.CreatedAt), utc(d.UpdatedAt)
	return d, err
}

func (s pgDevices) Register(ctx context.Context, nd NewDevice) (Device, error) {
	const op = "register device"
	owner, ok := canonicalID(nd.OwnerID)
	if !ok {
		return Device{}, newError(op, postgres.ErrForeignKey, msgOwnerNotFound)
	}
	d, err := scanDevice(s.q.QueryRow(ctx, `
insert into devices (owner_id, serial, name) values ($1, $2, $3)
returning `+deviceColumns, owner, nd.Serial, nd.Name))
	if err != nil {
		return Device{}, fail(op, err, func(e *postgres.Error) string {
			switch e.Constraint {
			case "devices_serial_live_key":
				return msgSerialTaken
			case "devices_owner_id_fkey":
				return msgOwnerNotFound
			}
			return notNull(e)
		})
	}
	return d, nil
}

func (s pgDevices) Get(ctx context.Context, id string) (Device, error) {
	const op = "get device"
	id, ok := canonicalID(id)
	if !ok {
		return Device{}, newError(op, postgres.ErrNotFound, msgDeviceNotFound)
	}
	d, err := scanDevice(s.q.QueryRow(ctx, `select `+deviceColumns+` from devices where id = $1 and deleted_at is null`, id))
	if err != nil {
		return Device{}, fail(op, err, notFound(msgDeviceNotFound))
	}
	return d, nil
}

func (s pgDevices) SetLifecycleState(ctx context.Context, id string, state LifecycleState) (Device, error) {
	const op = "set device lifecycle state"
	id, ok := canonicalID(id)
	if !ok {
		return Device{}, newError(op, postgres.ErrNotFound, msgDeviceNotFound)
	}
	explain := func(e *postgres.Error) string {
		if e.Constraint == "devices_lifecycle_state_check" {
			return msgLifecycleInvalid
		}
		return notFound(msgDeviceNotFound)(e)
	}
	var d Device
	err := postgres.WithTx(ctx, s.q, func(tx pgx.Tx) error {
		var err error
		d, err = scanDevice(tx.QueryRow(ctx, `
update devices set lifecycle_state = $2 where id = $1 and deleted_at is null
returning `+deviceColumns, id, string(state)))
		if err != nil || state != LifecycleRetired {
			return err
		}
		// A retired device must not keep working: the same revocation as a delete.
		return s.revokeTokens(ctx, tx, id)
	})
	if err != nil {
		return Device{}, fail(op, err, explain)
	}
	return d, nil
}

func (s pgDevices) SetConnectionState(ctx context.Context, id string, state ConnectionState) (Device, error) {
	const op = "set device connection state"
	id, ok := canonicalID(id)
	if !ok {
		return Device{}, newError(op, postgres.ErrNotFound, msgDeviceNotFound)
	}
	d, err := scanDevice(s.q.QueryRow(ctx, `
update devices
   set connection_state = $2,
       last_seen_at = case when $2 in ('online', 'offline') then now() else last_seen_at end
 where id = $1 and deleted_at is null
returning `+deviceColumns, id, string(state)))
	if err != nil {
		return Device{}, fail(op, err, func(e *postgres.Error) string {
			if e.Constraint == "devices_connection_state_check" {
				return msgConnectionInvalid
			}
			return notFound(msgDeviceNotFound)(e)
		})
	}
	return d, nil
}

// SoftDelete runs the statements of docs/database.md ("Tokens and device deletion") in one
// transaction. The token timestamps come from the store's clock like every token time.
func (s pgDevices) SoftDelete(ctx context.Context, id string) error {
	const op = "delete device"
	id, ok := canonicalID(id)
	if !ok {
		return newError(op, postgres.ErrNotFound, msgDeviceNotFound)
	}
	err := postgres.WithTx(ctx, s.q, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `update devices set deleted_at = now() where id = $1 and deleted_at is null`, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return newError(op, postgres.ErrNotFound, msgDeviceNotFound)
		}
		if err := s.opts.step(stepDevice); err != nil {
			return err
		}
		return s.revokeTokens(ctx, tx, id)
	})
	var storeErr *Error
	if errors.As(err, &storeErr) {
		return storeErr
	}
	if err != nil {
		return fail(op, err, nil)
	}
	return nil
}

// revokeTokens revokes a device's outstanding pairing tokens and its session tokens, inside the
// caller's transaction.
func (s pgDevices) revokeTokens(ctx context.Context, tx pgx.Tx, deviceID string) error {
	now := s.opts.clock()
	if _, err := tx.Exec(ctx, `
update pairing_tokens set revoked_at = $2
 where device_id = $1 and revoked_at is null and consumed_at is null`, deviceID, now); err != nil {
		return err
	}
	if err := s.opts.step(stepPairingTokens); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `
update session_tokens set revoked_at = $2
 where device_id = $1 and revoked_at is null`, deviceID, now); err != nil {
		return err
	}
	return s.opts.step(stepSessionTokens)
}
