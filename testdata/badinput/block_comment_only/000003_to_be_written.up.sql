/* 000003_to_be_written: what this migration changes, and why. */
