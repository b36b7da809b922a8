package postgres_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/testcontainers/testcontainers-go"

	"visiona-backend/internal/config"
	"visiona-backend/internal/postgres"
	"visiona-backend/internal/testenv"
)

// testCA is a certificate authority made for one test, and the files it wrote.
type testCA struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	rootPEM string // path of the CA certificate
}

func newTestCA(t *testing.T, dir, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name+".crt")
	writePEM(t, path, "CERTIFICATE", der)
	return &testCA{cert: cert, key: key, rootPEM: path}
}

// issue signs a server certificate valid for dnsName only (no IP address), PEM-encoded.
func (ca *testCA) issue(t *testing.T, dnsName string) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: dnsName},
		DNSNames:     []string{dnsName},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// tlsInitScript runs as the postgres user on a fresh data directory (the image contract's
// /docker-entrypoint-initdb.d): the key must belong to that user with mode 0600, and the role
// tlsonly may connect over TLS only.
const tlsInitScript = `cp /tls/server.crt /tls/server.key "$PGDATA"/
chmod 600 "$PGDATA"/server.key
printf '\nssl = on\n' >>"$PGDATA"/postgresql.conf
sed -i '1i hostnossl all tlsonly all reject' "$PGDATA"/pg_hba.conf
`

// startTLSPostgres starts a PostgreSQL container with TLS on, its certificate signed by ca for
// the name localhost.
func startTLSPostgres(t *testing.T, ca *testCA) *testenv.Postgres {
	t.Helper()
	testenv.RequireDocker(t)
	certPEM, keyPEM := ca.issue(t, "localhost")
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	pg, err := testenv.StartPostgres(ctx, testenv.ImagesFromEnv(os.LookupEnv).Postgres, testcontainers.WithFiles(
		testcontainers.ContainerFile{Reader: bytes.NewReader(certPEM), ContainerFilePath: "/tls/server.crt", FileMode: 0o644},
		testcontainers.ContainerFile{Reader: bytes.NewReader(keyPEM), ContainerFilePath: "/tls/server.key", FileMode: 0o644},
		testcontainers.ContainerFile{Reader: strings.NewReader(tlsInitScript), ContainerFilePath: "/docker-entrypoint-initdb.d/tls.sh", FileMode: 0o644},
	))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := pg.Terminate(ctx); err != nil {
			t.Error(err)
		}
	})
	return pg
}

// connectionUsesTLS connects with cfg and reports whether the session is encrypted, as the
// server sees it.
func connectionUsesTLS(t *testing.T, cfg config.DB) (bool, error) {
	t.Helper()
	conn, err := postgres.Connect(t.Context(), cfg)
	if err != nil {
		return false, err
	}
	defer conn.Close(context.Background())
	var ssl bool
	err = conn.QueryRow(t.Context(), "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&ssl)
	return ssl, err
}

type sslCase struct {
	name     string
	mode     string
	host     string // "" keeps the server's
	user     string // "" keeps the superuser
	password string // "" keeps the superuser's
	rootCert string
	wantTLS  bool
	wantErr  string // part of the one-line error, "" for success
}

func runSSLCases(t *testing.T, base config.DB, cases []sslCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base
			cfg.SSLMode, cfg.SSLRootCert = tc.mode, tc.rootCert
			if tc.host != "" {
				cfg.Host = tc.host
			}
			if tc.user != "" {
				cfg.User = tc.user
			}
			if tc.password != "" {
				cfg.Password = tc.password
			}
			gotTLS, err := connectionUsesTLS(t, cfg)
			if tc.wantErr != "" {
				var ce *postgres.ConnectError
				if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want a ConnectError with %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), cfg.Password) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("error is not one password-free line: %q", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("connect: %v", err)
			}
			if gotTLS != tc.wantTLS {
				t.Fatalf("TLS = %v, want %v", gotTLS, tc.wantTLS)
			}
		})
	}
}

// Every sslmode against a server with TLS on, as libpq behaves: prefer encrypts, allow does
// not, verify-* check the certificate, and each failure names its cause.
func TestSSLModesAgainstTLSServer(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t, dir, "visiona-test-ca")
	otherCA := newTestCA(t, dir, "someone-else")
	pg := startTLSPostgres(t, ca)
	base, err := config.DBFromURL(pg.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	base.Host = "localhost" // the name on the certificate
	testenv.Exec(t, testenv.Connect(t, pg.AdminDB(t)), "CREATE ROLE tlsonly LOGIN PASSWORD 'tls-only-pw'")
	runSSLCases(t, base, []sslCase{
		{name: "disable", mode: "disable", wantTLS: false},
		{name: "allow tries plaintext first", mode: "allow", wantTLS: false},
		{name: "prefer encrypts", mode: "prefer", wantTLS: true},
		{name: "require", mode: "require", wantTLS: true},
		{name: "verify-ca", mode: "verify-ca", rootCert: ca.rootPEM, wantTLS: true},
		{name: "verify-full", mode: "verify-full", rootCert: ca.rootPEM, wantTLS: true},
		{name: "verify-ca without the CA", mode: "verify-ca", wantErr: "TLS certificate is not trusted"},
		{name: "verify-full with another CA", mode: "verify-full", rootCert: otherCA.rootPEM, wantErr: "signed by an authority VISIONA_DB_SSLROOTCERT does not hold"},
		{name: "require with a root cert verifies", mode: "require", rootCert: otherCA.rootPEM, wantErr: "TLS certificate is not trusted"},
		{name: "verify-full on a name the certificate lacks", mode: "verify-full", host: "127.0.0.1", rootCert: ca.rootPEM, wantErr: `not valid for host "127.0.0.1"`},
		{name: "verify-ca ignores the name", mode: "verify-ca", host: "127.0.0.1", rootCert: ca.rootPEM, wantTLS: true},
		{name: "prefer with a wrong password", mode: "prefer", password: "not-the-password", wantErr: "password authentication failed"},
		{name: "TLS-only user without TLS", mode: "disable", user: "tlsonly", password: "tls-only-pw", wantErr: `accepts user "tlsonly" only over TLS`},
		{name: "TLS-only user with prefer", mode: "prefer", user: "tlsonly", password: "tls-only-pw", wantTLS: true},
		{name: "TLS-only user with allow falls back to TLS", mode: "allow", user: "tlsonly", password: "tls-only-pw", wantTLS: true},
	})
}

// Every sslmode against a server without TLS, as on most laptops and CI services: the default
// (prefer) connects.
func TestSSLModesAgainstPlainServer(t *testing.T) {
	base := pgServer.NewDB(t)
	runSSLCases(t, base, []sslCase{
		{name: "default prefer connects", mode: config.DefaultSSLMode, wantTLS: false},
		{name: "allow", mode: "allow", wantTLS: false},
		{name: "disable", mode: "disable", wantTLS: false},
		{name: "require", mode: "require", wantErr: "does not accept TLS, which VISIONA_DB_SSLMODE=require requires"},
		{name: "verify-full", mode: "verify-full", wantErr: "does not accept TLS, which VISIONA_DB_SSLMODE=verify-full requires"},
		{name: "prefer with a wrong password", mode: "prefer", password: "not-the-password", wantErr: "password authentication failed"},
	})
}

// PG* variables and files under ~/.postgresql must not change what VISIONA_DB_* says.
func TestConnectIgnoresLibpqEnvironment(t *testing.T) {
	base := pgServer.NewDB(t)
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, ".postgresql"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".postgresql", "root.crt"), []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"HOME": home, "PGSSLMODE": "require", "PGSSLROOTCERT": "/nonexistent/root.crt",
		"PGSSLCERT": "/nonexistent/client.crt", "PGSSLKEY": "/nonexistent/client.key",
		"PGPASSWORD": "wrong", "PGOPTIONS": "-c search_path=nowhere", "PGTARGETSESSIONATTRS": "standby",
		"PGSSLNEGOTIATION": "direct", "PGCHANNELBINDING": "require",
	} {
		t.Setenv(k, v)
	}
	base.SSLMode = config.DefaultSSLMode
	conn, err := postgres.Connect(t.Context(), base)
	if err != nil {
		t.Fatalf("connect with PG* variables set: %v", err)
	}
	defer conn.Close(context.Background())
	var searchPath string
	if err := conn.QueryRow(t.Context(), "SHOW search_path").Scan(&searchPath); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(searchPath, "nowhere") {
		t.Fatalf("PGOPTIONS reached the session: search_path = %q", searchPath)
	}
}

// A TLS file that cannot be used is a configuration error naming its variable, before any
// connection is tried.
func TestTLSFileErrorsNameTheVariable(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "root.crt")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	somePEM := filepath.Join(dir, "client.crt")
	writePEM(t, somePEM, "CERTIFICATE", []byte{1})
	base := config.DB{Host: "127.0.0.1", Port: 1, User: "u", Name: "d", SSLMode: "verify-full"}
	for _, tc := range []struct {
		name, want string
		set        func(*config.DB)
	}{
		{"missing root cert", "VISIONA_DB_SSLROOTCERT: cannot read " + filepath.Join(dir, "nope.crt") + ": no such file or directory", func(d *config.DB) { d.SSLRootCert = filepath.Join(dir, "nope.crt") }},
		{"root cert not PEM", "VISIONA_DB_SSLROOTCERT: " + notPEM + " holds no PEM block", func(d *config.DB) { d.SSLRootCert = notPEM }},
		{"client key missing", "VISIONA_DB_SSLKEY: cannot read", func(d *config.DB) { d.SSLCert, d.SSLKey = somePEM, filepath.Join(dir, "nope.key") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base
			tc.set(&cfg)
			_, err := postgres.Connect(t.Context(), cfg)
			var cfgErr *config.Error
			if !errors.As(err, &cfgErr) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want a config.Error with %q", err, tc.want)
			}
		})
	}
}
