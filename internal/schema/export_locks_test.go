package schema

// WithoutLocks turns the lock measurement off, to measure its cost.
func WithoutLocks() RoundTripOption {
	return func(c *roundTripConfig) error {
		c.noLocks = true
		return nil
	}
}
