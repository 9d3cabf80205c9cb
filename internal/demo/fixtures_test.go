// Test that the demo's embedded copies of Istio's bookinfo rules stay byte-for-byte the shared fixtures.

package demo

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// The demo embeds copies of Istio's bookinfo rules (an embedded file must
// live in the package); they must stay byte-for-byte the shared fixtures.
func TestEmbeddedBookinfoRulesMatchSharedFixtures(t *testing.T) {
	for name, embedded := range map[string][]byte{
		"destination-rule-all.yaml":      BookinfoRules,
		"destination-rule-all-mtls.yaml": BookinfoMTLSRules,
	} {
		shared, err := os.ReadFile(filepath.Join("..", "..", "..", "shared", "fixtures", "bookinfo", name))
		if err != nil {
			t.Fatalf("the shared fixture beside the repository: %v", err)
		}
		if !bytes.Equal(shared, embedded) {
			t.Errorf("internal/demo/bookinfo/%s differs from ../shared/fixtures/bookinfo/%s", name, name)
		}
	}
}
