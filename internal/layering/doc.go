// Package layering holds the test that keeps the layer table of
// docs/design.md true: a production package imports only packages below
// it. It has no code of its own.
package layering
