package app

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
)

// TestDatabaseURLWithoutHost: a PostgreSQL URL naming a Unix socket (no
// host, or host= in the query) is what libpq and pgx accept for a database
// on the same machine; the configuration must not refuse it.
func TestDatabaseURLWithoutHost(t *testing.T) {
	const socketDir = "/var/run/postgresql"
	if _, err := os.Stat(socketDir + "/.s.PGSQL.5432"); err != nil {
		t.Skipf("no PostgreSQL socket in %s", socketDir)
	}
	tests := []struct {
		name, url string
		ok        bool
	}{
		{"socket in the query", "postgres://postgres@/" + env.DatabaseName + "?host=" + socketDir, true},
		{"postgresql scheme", "postgresql://postgres@/" + env.DatabaseName + "?host=" + socketDir + "&sslmode=disable", true},
		{"another scheme", "mysql:///" + env.DatabaseName, false},
		{"not a URL", "host=" + socketDir, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Run(context.Background(), []string{"migrate"}, Env{Stdout: &stdout, Stderr: &stderr,
				Getenv: envMap(map[string]string{"DATABASE_URL": tc.url})})
			if tc.ok && (code != 0 || !strings.Contains(stdout.String(), "up to date")) {
				t.Errorf("migrate with %s: exit %d, %s%s", tc.url, code, stdout.String(), stderr.String())
			}
			if !tc.ok && (code == 0 || !strings.Contains(stderr.String(), "database_url (DATABASE_URL)")) {
				t.Errorf("migrate with %s: exit %d, stderr %q; want a refusal naming database_url", tc.url, code, stderr.String())
			}
		})
	}
}

// TestURLErrorsHideThePassword: a refused database or Redis URL is named
// in the error (printed, logged) without its password.
func TestURLErrorsHideThePassword(t *testing.T) {
	tests := []struct{ name, value string }{
		{"DATABASE_URL", "mysql://app:hunter2@db.example.com/webhookdb"},
		{"DATABASE_URL", "postgres://app:hunter2@db.example.com:port/webhookdb"},
		{"REDIS_URL", "http://:hunter2@redis.example.com:6379/0"},
		{"REDIS_URL", "redis://:hunter2@/0"},
	}
	for _, tc := range tests {
		t.Run(tc.name+" "+tc.value, func(t *testing.T) {
			_, err := LoadConfig(LoadOptions{Path: t.TempDir() + "/none.yml", Getenv: envMap(map[string]string{tc.name: tc.value})})
			if err == nil {
				t.Fatal("accepted")
			}
			if strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), tc.name) {
				t.Errorf("error %q shows the password or does not name %s", err, tc.name)
			}
		})
	}
}
