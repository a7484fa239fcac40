//go:build tools

// Package tools pins Versity's S3 gateway (versitygw, Apache-2.0), the S3 server
// the tests and the demo run; hack/localkube/build.sh s3 builds its command.
package tools

import _ "github.com/versity/versitygw/cmd/versitygw"
