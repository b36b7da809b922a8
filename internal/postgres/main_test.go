package postgres_test

import (
	"testing"

	"visiona-backend/internal/testenv"
)

var pgServer = testenv.NewServer()

func TestMain(m *testing.M) { testenv.Main(m, pgServer) }
