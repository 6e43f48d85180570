package testutil

import (
	"os"
	"path/filepath"
)

// PayloadsDir is the folder of real GitHub webhook payloads
// (shared/github-payloads, beside the repository): WEBHOOKDB_PAYLOADS if
// set, else the first shared/github-payloads found walking up from the
// test's directory. It returns "" when there is none.
func PayloadsDir() string {
	if d := os.Getenv("WEBHOOKDB_PAYLOADS"); d != "" {
		return d
	}
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		p := filepath.Join(dir, "shared", "github-payloads")
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}
