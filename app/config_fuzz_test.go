package app

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// fuzzEnvNames are the environment variables FuzzLoadConfig sets one of.
var fuzzEnvNames = []string{
	"GITHUB_WEB_URL", "GITHUB_V3_API_URL", "GITHUB_APP_INTEGRATION_ID", "GITHUB_APP_WEBHOOK_SECRET",
	"DATABASE_URL", "REDIS_URL", "WEBHOOKDB_ADDR", "WEBHOOKDB_PUBLIC_URL", "WEBHOOKDB_SESSION_KEY",
	"WEBHOOKDB_NAMESPACE", "WEBHOOKDB_WORKERS", "WEBHOOKDB_INSTALLATION_CONCURRENCY",
	"WEBHOOKDB_SHUTDOWN_TIMEOUT", "WEBHOOKDB_READ_HEADER_TIMEOUT", "WEBHOOKDB_READ_TIMEOUT",
	"WEBHOOKDB_WRITE_TIMEOUT", "WEBHOOKDB_REVOKED_RETENTION", "WEBHOOKDB_LOG_LEVEL", "WEBHOOKDB_LOG_FORMAT",
}

// namesKey is how every validation error starts: the YAML key and its
// environment variable ("workers (WEBHOOKDB_WORKERS): ..."), or the
// variable alone when its text does not parse.
// yamlKeyed is a file error naming its key, which may be any text:
// "workers: line 1: cannot unmarshal ...".
var yamlKeyed = regexp.MustCompile(`(?s)^.+: line \d+: `)

var namesKey = regexp.MustCompile(`^([a-z][a-z0-9_.]* \([A-Z][A-Z0-9_]*\)|[A-Z][A-Z0-9_]*:)`)

// FuzzLoadConfig loads arbitrary YAML files and environment values: it
// never panics, and an error names what is wrong, the key (and its
// variable) or, for a file that does not decode, the file.
func FuzzLoadConfig(f *testing.F) {
	f.Add("", uint8(0), "")
	f.Add("workers: 3\nlog:\n  level: debug\n", uint8(10), "4")
	f.Add("workers: many\n", uint8(10), " 4 ")
	f.Add("workers: 99999999999999999999\n", uint8(10), "-1")
	f.Add("shutdown_timeout: 5x\n", uint8(12), "0s")
	f.Add("read_timeout: 1s\nread_header_timeout: 2s\n", uint8(13), "-5s")
	f.Add("revoked_retention: -1s\n", uint8(16), "1h")
	f.Add("github:\n  app:\n    integration_id: -1\n    private_key: \"-----BEGIN x\"\n", uint8(2), "x")
	f.Add("github: [1, 2]\n", uint8(1), "ftp://x")
	f.Add("unknown_key: 1\n", uint8(4), "postgres://u:hunter2@%zz")
	f.Add("database_url: \"\\0\"\n", uint8(5), "redis://u:p@")
	f.Add("a: &a [*a, *a]\n", uint8(6), "no-port")
	f.Add("!!binary AAAA\n", uint8(8), "short")
	f.Add("---\n---\nworkers: 2\n", uint8(9), "two words")
	f.Add("log: {level: loud, format: xml}\n", uint8(17), "\x00")
	f.Add("session_key: \"\xff\"\naddr: \"[::1]:80\"\n", uint8(7), "http://[::1")
	f.Fuzz(func(t *testing.T, body string, envIdx uint8, envValue string) {
		if strings.Contains(body, "private_key") && !strings.Contains(body, "-----BEGIN") {
			return // a key path would read whatever file the fuzzer names
		}
		path := filepath.Join(t.TempDir(), "config.yml")
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		name := fuzzEnvNames[int(envIdx)%len(fuzzEnvNames)]
		getenv := func(k string) (string, bool) {
			if k == name {
				return envValue, true
			}
			return "", false
		}
		for _, demo := range []bool{false, true} {
			_, err := LoadConfig(LoadOptions{Path: path, PathGiven: true, Getenv: getenv, Demo: demo})
			if err == nil {
				continue
			}
			msg := err.Error()
			if rest, ok := strings.CutPrefix(msg, "config file "+path+": "); ok {
				// YAML that does not parse names its line; values that do
				// not decode into the config name their key.
				unnamed := strings.HasPrefix(rest, "yaml: unmarshal errors")
				syntax := strings.HasPrefix(rest, "yaml: ") && !unnamed
				if unnamed || !syntax && !yamlKeyed.MatchString(rest) {
					t.Fatalf("file error names no key: %q", msg)
				}
				continue
			}
			if !namesKey.MatchString(msg) {
				t.Fatalf("error names no key: %q", msg)
			}
		}
	})
}

// TestConfigFileErrorsNameKey: a value of the file that does not decode is
// reported under its key, not only its line.
func TestConfigFileErrorsNameKey(t *testing.T) {
	tests := []struct{ body, want string }{
		{"workers: many\n", ": workers: line 1: cannot unmarshal !!str `many` into int"},
		{"log:\n  level: info\ngithub:\n  app:\n    integration_id: x\n", ": github.app.integration_id: line 5: cannot unmarshal"},
		{"log: {level: [1]}\n", ": log.level: line 1: cannot unmarshal !!seq into string"},
		{"addr: x\nunknown_key: 1\n", ": unknown_key: line 2: field unknown_key not found"},
		{"[1]\n", ": top level: line 1: cannot unmarshal !!seq into app.Config"},
		// A key that is a list names the mapping that holds it (found by fuzzing).
		{"[1, 2]: [1, 2]\n", ": top level: line 1: cannot unmarshal !!seq into string"},
		{"log:\n  [1]: x\n", ": log: line 2: cannot unmarshal !!seq into string"},
		{"workers: [\n", ": yaml: line 1: did not find expected node content"},
	}
	for _, tc := range tests {
		path := writeFile(t, "config.yml", tc.body)
		_, err := LoadConfig(LoadOptions{Path: path, PathGiven: true})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want it to contain %q", tc.body, err, tc.want)
		}
	}
}
