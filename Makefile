# modelpipe: one entry point for humans and CI. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help
UV := uv
RUN := $(UV) run --frozen
CLUSTER ?= dev
PYTEST_FAST := -m "not cluster and not e2e and not slow"

.PHONY: help bootstrap test check lint types imports test-fast crds demo bench \
        cluster-up cluster-down cluster-binaries node-binaries host-packages images clean tools kueue \
        argocd-health argocd-health-build

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

bootstrap: ## Install uv (pinned) and sync the locked environment
	@hack/bootstrap.sh

cluster-binaries: bootstrap ## Build the control plane and the volume provisioner from Go modules (cached)
	@hack/localkube/build.sh >/dev/null
	@hack/localkube/build.sh storage >/dev/null

host-packages: ## Install the Debian packages the real node and image builds need (as root)
	@hack/localkube/host-packages.sh

# Built before pytest starts: a cold Go build inside a fixture would count against
# pytest-timeout's per-test limit (see tests/packaging/conftest.py).
tools: ## Build the test tools from Go modules (helm, the S3 server versitygw; cached)
	@hack/helm/build.sh >/dev/null
	@hack/localkube/build.sh s3 >/dev/null

kueue: ## Build Kueue's manager from its Go module, with its CRDs (cached; tests/e2e/test_kueue_cluster.py)
	@hack/localkube/build.sh kueue >/dev/null

node-binaries: ## Build the real node's kubelet and kube-proxy from Go modules (cached)
	@hack/localkube/build.sh node >/dev/null

images: host-packages ## Build the sandbox, operator and trainer images with buildah (cached by input hash)
	@hack/localkube/images.sh all

test: bootstrap host-packages cluster-binaries node-binaries images tools kueue argocd-health-build ## The whole suite, including the local-cluster tests
	$(RUN) pytest -q

check: bootstrap lint types imports test-fast ## Lint, mypy --strict, import contracts, fast tests

lint:
	$(RUN) ruff check .
	$(RUN) ruff format --check .

types:
	$(RUN) mypy operator/modelpipe trainer-image/src/modelpipe_trainer trainer-image/contract/src/modelpipe_contract hack/localkube/src/localkube
	$(RUN) mypy tests benchmarks hack/localkube/tests trainer-image/tests hack/*.py

imports:
	$(RUN) lint-imports

test-fast: tools
	$(RUN) pytest -q $(PYTEST_FAST)

argocd-health: ## Judge docs/argocd/health.lua in Argo CD's own Go code (make test runs it too)
	cd hack/argocd-health && GOTOOLCHAIN=go1.27.3 go test -count=1 -v ./...

# Like tools, for make test only: downloads and compiles Argo CD's Go module (~11 CPU-minutes
# cold) so that tests/packaging/test_argocd_harness.py only links and runs.
argocd-health-build:
	cd hack/argocd-health && GOTOOLCHAIN=go1.27.3 go test -count=1 -run '^$$' ./... >/dev/null

crds: bootstrap ## Regenerate the CRD YAML from the pydantic API model
	$(RUN) python -m modelpipe.api.crdgen -o crds/modelpipe.io_modelpipelines.yaml -o charts/modelpipe/templates/crds/modelpipe.io_modelpipelines.yaml \
		-p crds/modelpipe.io_admission-policy.yaml -p charts/modelpipe/templates/admission-policy.yaml

demo: bootstrap host-packages cluster-binaries node-binaries images tools ## Run the demo on a local cluster named "demo" (a real node)
	$(RUN) python hack/demo.py

bench: bootstrap host-packages cluster-binaries node-binaries images ## Print the performance figures
	$(RUN) python -m benchmarks

cluster-up: bootstrap host-packages cluster-binaries node-binaries images ## Start (or reuse) the local cluster CLUSTER (default: dev)
	$(RUN) localkube up --name $(CLUSTER)

cluster-down: bootstrap ## Stop every process of the local cluster CLUSTER
	$(RUN) localkube down --name $(CLUSTER)

clean: ## Stop all local clusters and remove their state
	@for d in .localkube/*/; do [ -d "$$d" ] && $(RUN) localkube down --name "$$(basename $$d)"; done; true
	rm -rf .localkube
