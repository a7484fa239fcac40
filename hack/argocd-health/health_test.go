// Runs docs/argocd/health.lua the way a running Argo CD does, with Argo CD's own code:
// the argocd-cm patch users install (docs/argocd/kustomize/argocd-cm.yaml; the Helm
// values and docs/gitops.md carry the same data, tests/packaging/test_argocd_snippets.py
// checks that) goes through Argo CD's settings manager
// (resource.customizations.health.modelpipe.io_ModelPipeline becomes a ResourceOverride,
// UseOpenLibs false), and every case of docs/argocd/health_test.yaml is judged through
// the controller's call, health.GetResourceHealth with lua.ResourceHealthOverrides, and
// through lua.VM's GetHealthScript and ExecuteHealthLua. Built-in resource_customizations
// scripts run with the standard libraries open; an argocd-cm override does not, which is
// why the override path is the one that must be tested.
package argocdhealth

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/argoproj/argo-cd/gitops-engine/v3/pkg/health"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes/fake"
	"sigs.k8s.io/yaml"

	appv1 "github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
	"github.com/argoproj/argo-cd/v3/util/lua"
	"github.com/argoproj/argo-cd/v3/util/settings"
)

const (
	healthKey   = "resource.customizations.health.modelpipe.io_ModelPipeline"
	overrideKey = "modelpipe.io/ModelPipeline"
	namespace   = "argocd"
)

var root = filepath.Join("..", "..")

// A case of docs/argocd/health_test.yaml, in Argo CD's own format.
type testCase struct {
	InputPath    string               `json:"inputPath"`
	HealthStatus *health.HealthStatus `json:"healthStatus"`
}

func read(t *testing.T, parts ...string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(append([]string{root}, parts...)...))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// shippedConfigMap is the argocd-cm patch users install as it is.
func shippedConfigMap(t *testing.T) *corev1.ConfigMap {
	t.Helper()
	var cm corev1.ConfigMap
	if err := yaml.UnmarshalStrict(read(t, "docs", "argocd", "kustomize", "argocd-cm.yaml"), &cm); err != nil {
		t.Fatal(err)
	}
	if cm.Kind != "ConfigMap" || cm.Name != "argocd-cm" {
		t.Fatalf("docs/argocd/kustomize/argocd-cm.yaml is a %s %q, not the argocd-cm ConfigMap", cm.Kind, cm.Name)
	}
	return &cm
}

// resourceOverrides are what Argo CD's settings manager makes of the shipped
// argocd-cm, read from a (fake) cluster as the application controller reads it.
func resourceOverrides(t *testing.T) map[string]appv1.ResourceOverride {
	t.Helper()
	cm := shippedConfigMap(t)
	cm.Namespace = namespace
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{
		Name: "argocd-secret", Namespace: namespace,
		Labels: map[string]string{"app.kubernetes.io/part-of": "argocd"},
	}}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	manager := settings.NewSettingsManager(ctx, fake.NewClientset(cm, secret), namespace)
	overrides, err := manager.GetResourceOverrides()
	if err != nil {
		t.Fatal(err)
	}
	return overrides
}

func loadObject(t *testing.T, inputPath string) *unstructured.Unstructured {
	t.Helper()
	obj := map[string]any{}
	if err := yaml.Unmarshal(read(t, "docs", "argocd", inputPath), &obj); err != nil {
		t.Fatalf("%s: %v", inputPath, err)
	}
	return &unstructured.Unstructured{Object: obj}
}

func cases(t *testing.T) []testCase {
	t.Helper()
	var file struct {
		Tests []testCase `json:"tests"`
	}
	if err := yaml.UnmarshalStrict(read(t, "docs", "argocd", "health_test.yaml"), &file); err != nil {
		t.Fatal(err)
	}
	if len(file.Tests) == 0 {
		t.Fatal("docs/argocd/health_test.yaml has no tests")
	}
	return file.Tests
}

func TestArgoCDInstallsTheShippedCheck(t *testing.T) {
	script := strings.TrimSpace(string(read(t, "docs", "argocd", "health.lua")))
	shipped := shippedConfigMap(t).Data[healthKey]
	if strings.TrimSpace(shipped) != script {
		t.Fatalf("docs/argocd/kustomize/argocd-cm.yaml's %s differs from docs/argocd/health.lua", healthKey)
	}
	override, ok := resourceOverrides(t)[overrideKey]
	if !ok {
		t.Fatalf("argocd-cm gave no resource override for %s", overrideKey)
	}
	if strings.TrimSpace(override.HealthLua) != script || override.UseOpenLibs {
		t.Fatalf("override for %s: useOpenLibs=%v, script matches: %v",
			overrideKey, override.UseOpenLibs, strings.TrimSpace(override.HealthLua) == script)
	}
}

func TestHealthCases(t *testing.T) {
	overrides := resourceOverrides(t)
	for _, tc := range cases(t) {
		t.Run(tc.InputPath, func(t *testing.T) {
			obj := loadObject(t, tc.InputPath)
			if obj.GroupVersionKind().GroupKind().String() != "ModelPipeline.modelpipe.io" {
				t.Fatalf("%s is a %s, not a ModelPipeline", tc.InputPath, obj.GroupVersionKind())
			}
			// The application controller's call (controller/health.go).
			got, err := health.GetResourceHealth(obj, lua.ResourceHealthOverrides(overrides))
			if err != nil {
				t.Fatal(err)
			}
			// The same through lua.VM, checking that the argocd-cm script is the one
			// found and that it runs without the standard libraries.
			vm := lua.VM{ResourceOverrides: overrides, UseOpenLibs: false}
			script, useOpenLibs, err := vm.GetHealthScript(obj)
			if err != nil || script != overrides[overrideKey].HealthLua || useOpenLibs {
				t.Fatalf("GetHealthScript: err=%v, useOpenLibs=%v, is the argocd-cm script: %v",
					err, useOpenLibs, script == overrides[overrideKey].HealthLua)
			}
			direct, err := vm.ExecuteHealthLua(obj, script)
			if err != nil {
				t.Fatal(err)
			}
			if got == nil || direct == nil {
				t.Fatalf("the script returned no health for %s", tc.InputPath)
			}
			if *direct != *got {
				t.Fatalf("lua.VM says %+v, the controller's call says %+v", *direct, *got)
			}
			if *got != *tc.HealthStatus {
				t.Fatalf("health of %s:\n got  %+v\n want %+v", tc.InputPath, *got, *tc.HealthStatus)
			}
		})
	}
}

// Guards the guard: through the same override path, a script that needs Lua's string
// library fails, so the cases above really ran without the standard libraries.
func TestOverrideRunsWithoutStandardLibraries(t *testing.T) {
	overrides := resourceOverrides(t)
	probe := overrides[overrideKey]
	probe.HealthLua = `return {status = string.lower("HEALTHY")}`
	overrides[overrideKey] = probe
	obj := loadObject(t, cases(t)[0].InputPath)
	_, err := health.GetResourceHealth(obj, lua.ResourceHealthOverrides(overrides))
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("string")) {
		t.Fatalf("a script using the string library ran: err=%v", err)
	}
}
