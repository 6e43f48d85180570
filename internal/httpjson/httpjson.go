// Package httpjson writes the JSON answers of webhookdb's HTTP endpoints,
// so that every one of them answers the same way.
package httpjson

import (
	"encoding/json"
	"net/http"
)

// Write answers code with v as JSON.
func Write(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v) // the client went away; nothing to do
}

// Message answers code with {"message": msg}.
func Message(w http.ResponseWriter, code int, msg string) {
	Write(w, code, map[string]string{"message": msg})
}
