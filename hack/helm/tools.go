//go:build tools

// Package tools pins the helm command so that go mod tidy keeps its
// dependencies in go.sum. helm's cmd/helm is a main package whose root
// command is unexported, so it cannot be wrapped by a main.go of our own;
// build.sh builds it by import path inside this module instead.
package tools

import (
	_ "helm.sh/helm/v3/cmd/helm"
)
