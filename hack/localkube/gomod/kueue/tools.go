//go:build tools

// Package tools pins Kueue (sigs.k8s.io/kueue, Apache-2.0), the job queueing
// controller the Kueue path of training admission is tested against;
// hack/localkube/build.sh kueue builds its manager.
package tools

import _ "sigs.k8s.io/kueue/cmd/kueue"
