package handlers

import (
	"unicode"
	"unicode/utf8"
)

// maxHeaderText bounds the X-GitHub-Event and X-GitHub-Delivery values we
// store: GitHub's event names are short words, its delivery ids UUIDs.
const maxHeaderText = 255

// headerText reports whether v can be stored and used as a metric label:
// valid UTF-8 (Prometheus panics on anything else), no control character
// (PostgreSQL refuses \x00 in text) and at most maxHeaderText bytes. A
// signed delivery whose headers fail it is bad input (400), not a failure
// to store.
func headerText(v string) bool {
	if len(v) > maxHeaderText || !utf8.ValidString(v) {
		return false
	}
	for _, r := range v {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}
