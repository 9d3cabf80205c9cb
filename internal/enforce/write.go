// The writes of enforce and undo: creates, JSON patches and deletes with concurrency guards and their
// inverses, server-side dry runs, object YAML without server-managed fields, and the patch builder.

package enforce

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	"github.com/meshlock/meshlock/internal/k8s"
)

// istioObject is a DestinationRule, a PeerAuthentication or an AuthorizationPolicy.
type istioObject interface {
	runtime.Object
	metav1.Object
}

// patchOp is one RFC 6902 JSON Patch operation. Updates are JSON patches of
// exactly the fields meshlock sets, so fields this client version does not
// know (a newer Istio's CRD) are never dropped, and their inverse is exact.
type patchOp struct {
	Op    string
	Path  string
	Value any
}

func (p patchOp) MarshalJSON() ([]byte, error) {
	if p.Op == "remove" {
		return json.Marshal(struct {
			Op   string `json:"op"`
			Path string `json:"path"`
		}{p.Op, p.Path})
	}
	return json.Marshal(struct {
		Op    string `json:"op"`
		Path  string `json:"path"`
		Value any    `json:"value"`
	}{p.Op, p.Path, p.Value})
}

func (p *patchOp) UnmarshalJSON(data []byte) error {
	var raw struct {
		Op    string `json:"op"`
		Path  string `json:"path"`
		Value any    `json:"value"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	*p = patchOp{Op: raw.Op, Path: raw.Path, Value: raw.Value}
	return nil
}

// objectWrite is one write: a create, a JSON patch or a delete, with its
// optimistic-concurrency guard.
type objectWrite struct {
	kind, namespace, name string

	create istioObject // create this object
	ops    []patchOp   // or patch with these
	// inverse undoes ops on the object ops produced.
	inverse []patchOp
	delete  bool // or delete it

	// resourceVersion is the precondition of a patch or delete ("" = none).
	resourceVersion string
	uid             string
	// fingerprint is the content (spec, labels, annotations) the object must
	// still have; it is checked before writing when there is no
	// resourceVersion to guard with (the fake clientsets assign none).
	fingerprint string
}

// invert is the write that takes result (what w produced) back.
func (w objectWrite) invert(result istioObject) objectWrite {
	back := objectWrite{kind: w.kind, namespace: w.namespace, name: w.name,
		resourceVersion: result.GetResourceVersion(), uid: string(result.GetUID()), fingerprint: fingerprint(result)}
	if w.create != nil {
		back.delete = true
		return back
	}
	back.ops, back.inverse = w.inverse, w.ops
	return back
}

// write performs w (as a server-side dry run when dryRun) and answers the
// object as stored, nil for a delete.
func (e *Enforcer) write(ctx context.Context, c k8s.Clients, w objectWrite, dryRun bool) (istioObject, error) {
	var dry []string
	if dryRun {
		dry = []string{metav1.DryRunAll}
	}
	if w.create == nil && w.resourceVersion == "" && w.fingerprint != "" {
		current, err := getObject(ctx, c, w.kind, w.namespace, w.name)
		if err != nil {
			return nil, err
		}
		if fingerprint(current) != w.fingerprint {
			return nil, apierrors.NewConflict(groupResource(w.kind), w.name, errors.New("the object changed since it was read"))
		}
	}
	switch {
	case w.create != nil:
		obj := w.create.DeepCopyObject().(istioObject)
		obj.SetResourceVersion("")
		opts := metav1.CreateOptions{DryRun: dry, FieldManager: e.opts.FieldManager}
		switch o := obj.(type) {
		case *networkingv1.DestinationRule:
			return c.Istio.NetworkingV1().DestinationRules(w.namespace).Create(ctx, o, opts)
		case *securityv1.PeerAuthentication:
			return c.Istio.SecurityV1().PeerAuthentications(w.namespace).Create(ctx, o, opts)
		case *securityv1.AuthorizationPolicy:
			return c.Istio.SecurityV1().AuthorizationPolicies(w.namespace).Create(ctx, o, opts)
		}
		return nil, fmt.Errorf("cannot create a %T", obj)
	case w.delete:
		opts := metav1.DeleteOptions{DryRun: dry}
		if w.resourceVersion != "" || w.uid != "" {
			opts.Preconditions = &metav1.Preconditions{}
			if w.resourceVersion != "" {
				opts.Preconditions.ResourceVersion = &w.resourceVersion
			}
			if w.uid != "" {
				uid := types.UID(w.uid)
				opts.Preconditions.UID = &uid
			}
		}
		switch w.kind {
		case KindDestinationRule:
			return nil, c.Istio.NetworkingV1().DestinationRules(w.namespace).Delete(ctx, w.name, opts)
		case KindPeerAuthentication:
			return nil, c.Istio.SecurityV1().PeerAuthentications(w.namespace).Delete(ctx, w.name, opts)
		case KindAuthorizationPolicy:
			return nil, c.Istio.SecurityV1().AuthorizationPolicies(w.namespace).Delete(ctx, w.name, opts)
		}
	default:
		ops := w.ops
		if w.resourceVersion != "" {
			// A patch that carries the resourceVersion is rejected with 409
			// Conflict when the object has changed since: optimistic concurrency.
			ops = append([]patchOp{{Op: "replace", Path: "/metadata/resourceVersion", Value: w.resourceVersion}}, ops...)
		}
		data, err := json.Marshal(ops)
		if err != nil {
			return nil, err
		}
		opts := metav1.PatchOptions{DryRun: dry, FieldManager: e.opts.FieldManager}
		switch w.kind {
		case KindDestinationRule:
			return c.Istio.NetworkingV1().DestinationRules(w.namespace).Patch(ctx, w.name, types.JSONPatchType, data, opts)
		case KindPeerAuthentication:
			return c.Istio.SecurityV1().PeerAuthentications(w.namespace).Patch(ctx, w.name, types.JSONPatchType, data, opts)
		case KindAuthorizationPolicy:
			return c.Istio.SecurityV1().AuthorizationPolicies(w.namespace).Patch(ctx, w.name, types.JSONPatchType, data, opts)
		}
	}
	return nil, fmt.Errorf("unknown kind %q", w.kind)
}

func getObject(ctx context.Context, c k8s.Clients, kind, namespace, name string) (istioObject, error) {
	switch kind {
	case KindDestinationRule:
		return c.Istio.NetworkingV1().DestinationRules(namespace).Get(ctx, name, metav1.GetOptions{})
	case KindPeerAuthentication:
		return c.Istio.SecurityV1().PeerAuthentications(namespace).Get(ctx, name, metav1.GetOptions{})
	case KindAuthorizationPolicy:
		return c.Istio.SecurityV1().AuthorizationPolicies(namespace).Get(ctx, name, metav1.GetOptions{})
	}
	return nil, fmt.Errorf("unknown kind %q", kind)
}

func groupResource(kind string) schema.GroupResource {
	switch kind {
	case KindPeerAuthentication:
		return schema.GroupResource{Group: "security.istio.io", Resource: "peerauthentications"}
	case KindAuthorizationPolicy:
		return schema.GroupResource{Group: "security.istio.io", Resource: "authorizationpolicies"}
	}
	return schema.GroupResource{Group: "networking.istio.io", Resource: "destinationrules"}
}

func typeMeta(obj istioObject) (apiVersion, kind string) {
	switch obj.(type) {
	case *networkingv1.DestinationRule:
		return "networking.istio.io/v1", KindDestinationRule
	case *securityv1.PeerAuthentication:
		return "security.istio.io/v1", KindPeerAuthentication
	case *securityv1.AuthorizationPolicy:
		return "security.istio.io/v1", KindAuthorizationPolicy
	}
	return "", ""
}

func newObject(kind string) (istioObject, error) {
	switch kind {
	case KindDestinationRule:
		return &networkingv1.DestinationRule{}, nil
	case KindPeerAuthentication:
		return &securityv1.PeerAuthentication{}, nil
	case KindAuthorizationPolicy:
		return &securityv1.AuthorizationPolicy{}, nil
	}
	return nil, fmt.Errorf("unknown kind %q", kind)
}

// toDoc is obj as generic JSON.
func toDoc(obj any) (map[string]any, error) {
	data, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	return doc, json.Unmarshal(data, &doc)
}

func fromDoc(doc map[string]any, into istioObject) error {
	data, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, into)
}

// serverManaged are the metadata fields the server owns: they are left out
// of every YAML meshlock shows or records.
var serverManaged = []string{"managedFields", "resourceVersion", "uid", "creationTimestamp", "generation", "selfLink"}

// objectYAML is obj as the server stores it, without server-managed
// metadata (nor an empty status).
func objectYAML(obj istioObject) (string, error) {
	doc, err := toDoc(obj)
	if err != nil {
		return "", err
	}
	doc["apiVersion"], doc["kind"] = typeMeta(obj)
	if meta, ok := doc["metadata"].(map[string]any); ok {
		for _, f := range serverManaged {
			delete(meta, f)
		}
	}
	if status, ok := doc["status"].(map[string]any); ok && len(status) == 0 {
		delete(doc, "status")
	}
	data, err := yaml.Marshal(doc)
	return string(data), err
}

// fingerprint is the content meshlock guards: spec, labels and annotations.
func fingerprint(obj istioObject) string {
	doc, err := toDoc(obj)
	if err != nil {
		return ""
	}
	data, _ := json.Marshal(map[string]any{"spec": doc["spec"], "labels": obj.GetLabels(), "annotations": obj.GetAnnotations()})
	return string(data)
}

// patchBuilder edits a JSON document and records the JSON patch that makes
// the edit and the one that takes it back.
type patchBuilder struct {
	doc     map[string]any
	ops     []patchOp
	inverse []patchOp // in the order they must run
}

// set puts value at path (map keys and slice indexes); every parent must
// exist, else it changes nothing and answers false.
func (b *patchBuilder) set(value any, path ...any) bool {
	node, key, ok := b.parent(path)
	if !ok {
		return false
	}
	old, existed := node[key]
	node[key] = value
	pointer := jsonPointer(path)
	b.ops = append(b.ops, patchOp{Op: "add", Path: pointer, Value: value})
	undo := patchOp{Op: "remove", Path: pointer}
	if existed {
		undo = patchOp{Op: "add", Path: pointer, Value: old}
	}
	b.inverse = append([]patchOp{undo}, b.inverse...)
	return true
}

// parent is the map holding the last key of path.
func (b *patchBuilder) parent(path []any) (map[string]any, string, bool) {
	if len(path) == 0 {
		return nil, "", false
	}
	var cur any = b.doc
	for _, seg := range path[:len(path)-1] {
		switch node := cur.(type) {
		case map[string]any:
			key, _ := seg.(string)
			cur = node[key]
		case []any:
			i, ok := seg.(int)
			if !ok || i < 0 || i >= len(node) {
				return nil, "", false
			}
			cur = node[i]
		default:
			return nil, "", false
		}
	}
	node, ok := cur.(map[string]any)
	key, isKey := path[len(path)-1].(string)
	return node, key, ok && isKey
}

func jsonPointer(path []any) string {
	var sb strings.Builder
	for _, seg := range path {
		sb.WriteByte('/')
		switch s := seg.(type) {
		case string:
			sb.WriteString(strings.NewReplacer("~", "~0", "/", "~1").Replace(s))
		case int:
			sb.WriteString(strconv.Itoa(s))
		}
	}
	return sb.String()
}

// remove deletes the map key at path, recording the add that puts it back.
func (b *patchBuilder) remove(path ...any) bool {
	node, key, ok := b.parent(path)
	if !ok {
		return false
	}
	old, existed := node[key]
	if !existed {
		return false
	}
	delete(node, key)
	pointer := jsonPointer(path)
	b.ops = append(b.ops, patchOp{Op: "remove", Path: pointer})
	b.inverse = append([]patchOp{{Op: "add", Path: pointer, Value: old}}, b.inverse...)
	return true
}

// splitPointer parses a JSON pointer written by jsonPointer: numbers are
// slice indexes (meshlock never patches a map key that is a number).
func splitPointer(pointer string) ([]any, error) {
	if !strings.HasPrefix(pointer, "/") {
		return nil, fmt.Errorf("invalid JSON pointer %q", pointer)
	}
	var path []any
	for _, seg := range strings.Split(pointer[1:], "/") {
		if i, err := strconv.Atoi(seg); err == nil {
			path = append(path, i)
			continue
		}
		path = append(path, strings.NewReplacer("~1", "/", "~0", "~").Replace(seg))
	}
	return path, nil
}

// yamlToObject decodes YAML written by objectYAML.
func yamlToObject(text string, into istioObject) error {
	return yaml.Unmarshal([]byte(text), into)
}
