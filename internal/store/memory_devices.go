package store

// The in-memory devices (see NewMemory).

import (
	"context"
	"crypto/sha256"

	"visiona-backend/internal/postgres"
)

type memDevices struct{ *memBackend }

func (s memDevices) Register(ctx context.Context, nd NewDevice) (Device, error) {
	const op = "register device"
	return inTx(s.memBackend, ctx, op, func() (Device, error) {
		owner, ok := canonicalID(nd.OwnerID)
		if !ok {
			return Device{}, newError(op, postgres.ErrForeignKey, msgOwnerNotFound)
		}
		// The unique index fires before the foreign key (an after trigger), as in PostgreSQL.
		for _, d := range s.devices {
			if !d.deleted && d.Serial == nd.Serial {
				return Device{}, newError(op, postgres.ErrConflict, msgSerialTaken)
			}
		}
		if _, ok := s.users[owner]; !ok {
			return Device{}, newError(op, postgres.ErrForeignKey, msgOwnerNotFound)
		}
		now := s.opts.clock()
		d := Device{ID: newUUID(), OwnerID: owner, Serial: nd.Serial, Name: nd.Name,
			Lifecycle: LifecycleUnpaired, Connection: ConnectionUnknown, CreatedAt: now, UpdatedAt: now}
		s.devices[d.ID] = memDevice{Device: d}
		return d, nil
	})
}

// liveDevice returns a live device; the caller holds s.mu.
func (s memDevices) liveDevice(op, id string) (memDevice, error) {
	id, _ = canonicalID(id)
	d, ok := s.devices[id]
	if !ok || d.deleted {
		return memDevice{}, newError(op, postgres.ErrNotFound, msgDeviceNotFound)
	}
	return d, nil
}

func (s memDevices) Get(ctx context.Context, id string) (Device, error) {
	const op = "get device"
	return inTx(s.memBackend, ctx, op, func() (Device, error) {
		d, err := s.liveDevice(op, id)
		return d.Device, err
	})
}

func (s memDevices) SetLifecycleState(ctx context.Context, id string, state LifecycleState) (Device, error) {
	const op = "set device lifecycle state"
	return inTx(s.memBackend, ctx, op, func() (Device, error) {
		d, err := s.liveDevice(op, id)
		if err != nil {
			return Device{}, err
		}
		if !validLifecycle(state) {
			return Device{}, newError(op, postgres.ErrCheck, msgLifecycleInvalid)
		}
		var apply func()
		if state == LifecycleRetired {
			if apply, err = s.revokeTokens(d.ID); err != nil {
				return Device{}, opErr(op, err)
			}
		}
		if d.Lifecycle != state {
			d.Lifecycle, d.UpdatedAt = state, s.opts.clock()
		}
		s.devices[d.ID] = d
		if apply != nil {
			apply()
		}
		return d.Device, nil
	})
}

func (s memDevices) SetConnectionState(ctx context.Context, id string, state ConnectionState) (Device, error) {
	const op = "set device connection state"
	return inTx(s.memBackend, ctx, op, func() (Device, error) {
		d, err := s.liveDevice(op, id)
		if err != nil {
			return Device{}, err
		}
		if !validConnection(state) {
			return Device{}, newError(op, postgres.ErrCheck, msgConnectionInvalid)
		}
		now := s.opts.clock()
		before := d.Device
		d.Connection = state
		if state == ConnectionOnline || state == ConnectionOffline {
			d.LastSeenAt = now
		}
		if d.Device != before {
			d.UpdatedAt = now
		}
		s.devices[d.ID] = d
		return d.Device, nil
	})
}

func (s memDevices) SoftDelete(ctx context.Context, id string) error {
	const op = "delete device"
	return inTxErr(s.memBackend, ctx, op, func() error {
		d, err := s.liveDevice(op, id)
		if err != nil {
			return err
		}
		// Every change is staged and applied only once every step has passed: the memory
		// equivalent of one transaction.
		if err := s.opts.step(stepDevice); err != nil {
			return opErr(op, err)
		}
		apply, err := s.revokeTokens(d.ID)
		if err != nil {
			return opErr(op, err)
		}
		d.deleted = true
		s.devices[d.ID] = d
		apply()
		return nil
	})
}

// revokeTokens stages the revocation of a device's outstanding pairing tokens and its session
// tokens, running the test hook's steps like the database backend; the caller holds s.mu and
// calls apply once nothing else can fail.
func (s memDevices) revokeTokens(deviceID string) (apply func(), err error) {
	var pairing, sessions [][sha256.Size]byte
	for h, t := range s.pairing {
		if t.DeviceID == deviceID && !t.revoked && !t.consumed {
			pairing = append(pairing, h)
		}
	}
	if err := s.opts.step(stepPairingTokens); err != nil {
		return nil, err
	}
	for h, t := range s.sessions {
		if t.DeviceID == deviceID && !t.revoked {
			sessions = append(sessions, h)
		}
	}
	if err := s.opts.step(stepSessionTokens); err != nil {
		return nil, err
	}
	return func() {
		for _, h := range pairing {
			t := s.pairing[h]
			t.revoked = true
			s.pairing[h] = t
		}
		for _, h := range sessions {
			t := s.sessions[h]
			t.revoked = true
			s.sessions[h] = t
		}
	}, nil
}
