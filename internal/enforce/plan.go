// Planning shared by every mode: the steps of a plan (a create or a patch of one object), the
// Services of a scope, free names and selectors in words.

package enforce

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshlock/meshlock/internal/k8s"
)

// absent is the recorded previous state of an object the action created.
const absent = "absent"

type serviceRef struct {
	name, namespace string
	selector        map[string]string
	ports           []int32
}

func newServiceRef(svc *corev1.Service) serviceRef {
	ref := serviceRef{name: svc.Name, namespace: svc.Namespace, selector: svc.Spec.Selector}
	for _, p := range svc.Spec.Ports {
		ref.ports = append(ref.ports, p.Port)
	}
	return ref
}

// planStep is one object of a plan.
type planStep struct {
	change   Change
	write    objectWrite
	previous string // YAML of the object before, or "absent"
}

// freeName is base, or the first of base-<suffix>, base-<suffix>-2, … not
// taken (suffix "mtls" for DestinationRules, "allow" for
// AuthorizationPolicies).
func freeName(base, suffix string, taken map[string]bool) string {
	if !taken[base] {
		return base
	}
	for i := 1; ; i++ {
		name := base + "-" + suffix
		if i > 1 {
			name = fmt.Sprintf("%s-%s-%d", base, suffix, i)
		}
		if !taken[name] {
			return name
		}
	}
}

func createStep(kind string, obj istioObject) (planStep, error) {
	yaml, err := objectYAML(obj)
	if err != nil {
		return planStep{}, err
	}
	return planStep{
		change:   Change{Action: ActionCreate, Kind: kind, Namespace: obj.GetNamespace(), Name: obj.GetName(), YAML: yaml},
		write:    objectWrite{kind: kind, namespace: obj.GetNamespace(), name: obj.GetName(), create: obj},
		previous: absent,
	}, nil
}

func updateStep(kind string, current, merged istioObject, b *patchBuilder, conflicts []string) (planStep, error) {
	previous, err := objectYAML(current)
	if err != nil {
		return planStep{}, err
	}
	step := planStep{
		change: Change{Action: ActionUpdate, Kind: kind, Namespace: current.GetNamespace(), Name: current.GetName(),
			Previous: previous, Conflict: strings.Join(conflicts, "; ")},
		previous: previous,
		write: objectWrite{kind: kind, namespace: current.GetNamespace(), name: current.GetName(),
			ops: b.ops, inverse: b.inverse, resourceVersion: current.GetResourceVersion(), fingerprint: fingerprint(current)},
	}
	if len(b.ops) == 0 {
		step.change.Action = ActionUnchanged
	}
	if step.change.YAML, err = objectYAML(merged); err != nil {
		return planStep{}, err
	}
	return step, nil
}

func describeSelector(labels map[string]string) string {
	if len(labels) == 0 {
		return "every workload (no selector)"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		parts = append(parts, k+"="+labels[k])
	}
	return strings.Join(parts, ",")
}

// getServices reads the Services of the scope, sorted by name. Namespace
// scope takes the Services that select pods: a Service without a selector
// (the API server's own "kubernetes", an ExternalName, hand-made Endpoints)
// points outside the mesh, where ISTIO_MUTUAL would cut every caller off.
func getServices(ctx context.Context, c k8s.Clients, req Request) ([]serviceRef, error) {
	if req.Scope == ScopeService {
		svc, err := c.Kube.CoreV1().Services(req.Namespace).Get(ctx, req.Service, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil, &enforceError{kind: ErrNotFound, cause: err, msg: fmt.Sprintf("Service %s/%s does not exist", req.Namespace, req.Service)}
		}
		if err != nil {
			return nil, err
		}
		return []serviceRef{newServiceRef(svc)}, nil
	}
	if _, err := c.Kube.CoreV1().Namespaces().Get(ctx, req.Namespace, metav1.GetOptions{}); apierrors.IsNotFound(err) {
		return nil, &enforceError{kind: ErrNotFound, cause: err, msg: fmt.Sprintf("namespace %s does not exist", req.Namespace)}
	}
	// Any other error (a user who may not read namespaces) is not decisive:
	// the Service list below answers for itself.
	list, err := c.Kube.CoreV1().Services(req.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	var out []serviceRef
	for i := range list.Items {
		if len(list.Items[i].Spec.Selector) == 0 {
			continue
		}
		out = append(out, newServiceRef(&list.Items[i]))
	}
	slices.SortFunc(out, func(a, b serviceRef) int { return strings.Compare(a.name, b.name) })
	return out, nil
}
