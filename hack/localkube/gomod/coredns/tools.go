//go:build tools

// Package tools pins the command this module builds (cluster DNS for the real
// node) so that go mod tidy keeps its dependencies in go.sum.
package tools

import (
	_ "github.com/coredns/coredns"
)
