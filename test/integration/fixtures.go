// Package integration holds the tests that run meshlock's parts against the
// real servers of the test bed.
package integration

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	istioclient "istio.io/client-go/pkg/clientset/versioned"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshlock/meshlock/internal/k8s"
)

// SharedFixture is the path of a file in ../shared/fixtures, beside the
// repository (in CI too).
func SharedFixture(t testing.TB, parts ...string) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		candidate := filepath.Join(append([]string{dir, "..", "shared", "fixtures"}, parts...)...)
		if _, err := os.Stat(candidate); err == nil {
			return candidate
		}
		if filepath.Dir(dir) == dir {
			t.Fatalf("fixture %v not found in a shared/fixtures folder beside any parent of %s", parts, wd)
		}
	}
}

// ApplyDestinationRules does what `kubectl apply -f file` does for
// DestinationRules in namespace: create each, or replace the spec of the
// one that exists.
func ApplyDestinationRules(t testing.TB, istio istioclient.Interface, namespace, file string) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rules, err := k8s.DecodeDestinationRules(f)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client := istio.NetworkingV1().DestinationRules(namespace)
	for _, rule := range rules {
		rule.Namespace = namespace
		existing, err := client.Get(ctx, rule.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			if _, err := client.Create(ctx, rule, metav1.CreateOptions{}); err != nil {
				t.Fatalf("create DestinationRule %s: %v", rule.Name, err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		updated := existing.DeepCopy()
		updated.Spec = *rule.Spec.DeepCopy()
		if _, err := client.Update(ctx, updated, metav1.UpdateOptions{}); err != nil {
			t.Fatalf("update DestinationRule %s: %v", rule.Name, err)
		}
	}
}
