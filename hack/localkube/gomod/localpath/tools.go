//go:build tools

// Package tools pins Rancher's local-path-provisioner (Apache-2.0), which gives
// every PersistentVolumeClaim of a local cluster a directory on its node;
// hack/localkube/build.sh storage builds its command.
package tools

import _ "github.com/rancher/local-path-provisioner"
