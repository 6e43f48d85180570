package ghtoken

import (
	"net/http"
	"strings"
	"testing"
)

func TestFromRequest(t *testing.T) {
	for _, c := range []struct {
		header, want string
		ok           bool
	}{
		{"Bearer abc", "abc", true},
		{"token  abc ", "abc", true},
		{"BEARER abc", "abc", true},
		{"Basic dXNlcjpwYXNz", "", false},
		{"Bearer ", "", false},
		{"abc", "", false},
		{"", "", false},
		{"Bearer " + strings.Repeat("a", MaxLen), strings.Repeat("a", MaxLen), true},
		{"Bearer " + strings.Repeat("a", MaxLen+1), "", false},
	} {
		r, _ := http.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Authorization", c.header)
		got, ok := FromRequest(r)
		if got != c.want || ok != c.ok {
			t.Errorf("%q: %q %v, want %q %v", c.header, got, ok, c.want, c.ok)
		}
	}
	if h := Hash("secret"); len(h) != 64 || strings.Contains(h, "secret") || h != Hash("secret") {
		t.Errorf("Hash: %q", h)
	}
}
