// Command webhookdb keeps a PostgreSQL replica of GitHub data. See README.md.
package main

import (
	"os"

	"github.com/webhookdb/webhookdb/app"
)

func main() {
	os.Exit(app.Main())
}
