// DecodeDestinationRules: reads a multi-document YAML or JSON stream of DestinationRules as kubectl apply -f would.

package k8s

import (
	"errors"
	"fmt"
	"io"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// DecodeDestinationRules reads a multi-document YAML (or JSON) stream of
// DestinationRules, as kubectl apply -f would.
func DecodeDestinationRules(r io.Reader) ([]*networkingv1.DestinationRule, error) {
	decoder := utilyaml.NewYAMLOrJSONDecoder(r, 4096)
	var out []*networkingv1.DestinationRule
	for {
		rule := &networkingv1.DestinationRule{}
		if err := decoder.Decode(rule); errors.Is(err, io.EOF) {
			return out, nil
		} else if err != nil {
			return nil, fmt.Errorf("document %d: %w", len(out)+1, err)
		}
		if rule.Kind == "" && rule.Name == "" {
			continue // an empty document between separators
		}
		if rule.Kind != "DestinationRule" {
			return nil, fmt.Errorf("document %d: kind %q, want DestinationRule", len(out)+1, rule.Kind)
		}
		out = append(out, rule)
	}
}
