package k8s

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	istioclient "istio.io/client-go/pkg/clientset/versioned"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes"
	k8stesting "k8s.io/client-go/testing"
)

// This file is meshlock's write side: it plans and applies mTLS enforcement
// (DestinationRules with ISTIO_MUTUAL or PeerAuthentications STRICT), with a
// server-side dry run for the preview, optimistic concurrency and a rollback
// when a multi-object action fails midway. audit.go records every applied
// action in the cluster and undoes it.

// Scopes and modes of an EnforceRequest (see the contract, section Enforce).
const (
	ScopeMesh      = "mesh"
	ScopeNamespace = "namespace"
	ScopeService   = "service"

	ModeDestinationRule    = "destinationrule"
	ModePeerAuthentication = "peerauthentication"
)

// Change actions.
const (
	ActionCreate    = "create"
	ActionUpdate    = "update"
	ActionUnchanged = "unchanged"
)

// Kinds meshlock writes.
const (
	KindDestinationRule    = "DestinationRule"
	KindPeerAuthentication = "PeerAuthentication"
)

// FieldManager is the default field manager of meshlock's writes.
const FieldManager = "meshlock"

// ManagedByLabel marks what meshlock creates: audit records and new policies.
const (
	ManagedByLabel = "app.kubernetes.io/managed-by"
	ManagedByValue = "meshlock"
)

// Errors the web layer maps to statuses. Kubernetes Forbidden errors are
// returned unchanged (apierrors.IsForbidden) so RBAC's message reaches the user.
var (
	// ErrConflict (409): a concurrent change, a subset- or port-level TLS
	// setting meshlock will not overwrite, an undo after a foreign edit or a
	// second undo. The message names the object.
	ErrConflict = errors.New("conflict")
	// ErrNotFound (404): an unknown action id, Service or namespace.
	ErrNotFound = errors.New("not found")
	// ErrInvalid (400): a request that can never succeed as written.
	ErrInvalid = errors.New("invalid request")
)

// enforceError is one clear sentence that still matches ErrConflict,
// ErrNotFound or ErrInvalid with errors.Is, and wraps its cause if any.
type enforceError struct {
	kind  error
	msg   string
	cause error
}

func (e *enforceError) Error() string { return e.msg }

func (e *enforceError) Unwrap() []error {
	if e.cause != nil {
		return []error{e.kind, e.cause}
	}
	return []error{e.kind}
}

func newError(kind error, format string, args ...any) error {
	return &enforceError{kind: kind, msg: fmt.Sprintf(format, args...)}
}

// EnforceRequest is the body of POST /api/enforce.
type EnforceRequest struct {
	Scope     string `json:"scope"`
	Namespace string `json:"namespace"`
	Service   string `json:"service"`
	Mode      string `json:"mode"`
	DryRun    bool   `json:"dryRun"`
}

// Validate rejects what can never succeed: an unknown scope or mode, an
// invalid namespace (DNS-1123 label) or service name (DNS-1035 label, as
// Kubernetes requires of Services), a missing namespace or service, and a
// namespace or service given where the scope does not use it (so that a
// mistaken request never widens to the whole mesh or namespace).
func (r EnforceRequest) Validate() error {
	switch r.Mode {
	case ModeDestinationRule, ModePeerAuthentication:
	case "":
		return newError(ErrInvalid, "mode is required: %s or %s", ModeDestinationRule, ModePeerAuthentication)
	default:
		return newError(ErrInvalid, "unknown mode %q: want %s or %s", r.Mode, ModeDestinationRule, ModePeerAuthentication)
	}
	switch r.Scope {
	case ScopeMesh:
		if r.Namespace != "" || r.Service != "" {
			return newError(ErrInvalid, "scope mesh takes no namespace or service")
		}
		return nil
	case ScopeNamespace:
		if r.Service != "" {
			return newError(ErrInvalid, "scope namespace takes no service; use scope service")
		}
		return validNamespace(r.Namespace)
	case ScopeService:
		if err := validNamespace(r.Namespace); err != nil {
			return err
		}
		if r.Service == "" {
			return newError(ErrInvalid, "scope service needs a service")
		}
		if errs := validation.IsDNS1035Label(r.Service); len(errs) > 0 {
			return newError(ErrInvalid, "invalid service name %q: %s", r.Service, strings.Join(errs, "; "))
		}
		return nil
	case "":
		return newError(ErrInvalid, "scope is required: %s, %s or %s", ScopeMesh, ScopeNamespace, ScopeService)
	default:
		return newError(ErrInvalid, "unknown scope %q: want %s, %s or %s", r.Scope, ScopeMesh, ScopeNamespace, ScopeService)
	}
}

func validNamespace(ns string) error {
	if ns == "" {
		return newError(ErrInvalid, "a namespace is required")
	}
	if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
		return newError(ErrInvalid, "invalid namespace %q: %s", ns, strings.Join(errs, "; "))
	}
	return nil
}

// Clients are the identity an action is performed with: the server's own,
// or the user's token with --auth=token, so Kubernetes RBAC decides.
type Clients struct {
	Kube  kubernetes.Interface
	Istio istioclient.Interface
}

// Change is one object of a plan or of an applied action.
type Change struct {
	Action    string `json:"action"` // create, update or unchanged
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// YAML is the object as the server stores (or would store) it, without
	// server-managed metadata.
	YAML string `json:"yaml"`
	// Previous is the object as it is now (same form as YAML), empty for a
	// create: with YAML it shows the change as a diff.
	Previous string `json:"previous,omitempty"`
	// Conflict, when set, says why this change cannot be applied.
	Conflict string `json:"conflict,omitempty"`
}

// Result answers an enforce request.
type Result struct {
	DryRun   bool     `json:"dryRun"`
	ActionID string   `json:"actionId"`
	Changes  []Change `json:"changes"`
	// ServerValidated is true when the API server ran admission and
	// validation on every create and update of the plan (a server-side dry
	// run, or the applied write itself). It is false against clients that
	// cannot dry-run (client-go's and Istio's fake clientsets of the demo),
	// where the YAML is computed locally.
	ServerValidated bool `json:"serverValidated"`
	// Warnings say where the change will not have the effect a person
	// expects, though nothing stops it (e.g. rules that shadow a mesh rule).
	Warnings []string `json:"warnings,omitempty"`
}

// EnforcerOptions configure an Enforcer.
type EnforcerOptions struct {
	// RootNamespace is Istio's root namespace; default istio-system.
	RootNamespace string
	// AuditNamespace is where audit records (ConfigMaps) live; required.
	AuditNamespace string
	// FieldManager of every write; default "meshlock".
	FieldManager string
	// AuditClient, when set, writes and reads audit records and Events with
	// its own identity (the server's), so a user acting with --auth=token
	// needs no rights on the audit namespace and cannot forge records. When
	// nil, the request's Clients.Kube is used.
	AuditClient kubernetes.Interface
	Logger      *slog.Logger
	Now         func() time.Time
	// BeforeWrite, when set, is called before each write of an applied
	// action (not of a dry run, nor of a rollback). It exists for tests that
	// make a concurrent change real.
	BeforeWrite func(ctx context.Context, c Change)
}

// Enforcer plans, applies, records and undoes mTLS enforcement. It keeps no
// state of its own: every record lives in the cluster.
type Enforcer struct {
	opts EnforcerOptions
}

// NewEnforcer checks opts and fills in the defaults.
func NewEnforcer(opts EnforcerOptions) (*Enforcer, error) {
	if opts.RootNamespace == "" {
		opts.RootNamespace = DefaultRootNamespace
	}
	if opts.AuditNamespace == "" {
		return nil, errors.New("enforcer: an audit namespace is required")
	}
	if errs := validation.IsDNS1123Label(opts.AuditNamespace); len(errs) > 0 {
		return nil, fmt.Errorf("enforcer: invalid audit namespace %q: %s", opts.AuditNamespace, strings.Join(errs, "; "))
	}
	if errs := validation.IsDNS1123Label(opts.RootNamespace); len(errs) > 0 {
		return nil, fmt.Errorf("enforcer: invalid root namespace %q: %s", opts.RootNamespace, strings.Join(errs, "; "))
	}
	if opts.FieldManager == "" {
		opts.FieldManager = FieldManager
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Enforcer{opts: opts}, nil
}

// honoursDryRun reports whether the Istio clientset sends dry-run writes to
// a server that honours them. client-go's object tracker, behind every
// generated fake clientset, ignores DryRun and stores the object; a plan
// against a fake is therefore computed locally.
func honoursDryRun(c Clients) bool {
	_, fake := c.Istio.(k8stesting.FakeClient)
	return !fake
}

func (e *Enforcer) auditClient(c Clients) kubernetes.Interface {
	if e.opts.AuditClient != nil {
		return e.opts.AuditClient
	}
	return c.Kube
}

// Enforce plans the request and, unless it is a dry run, applies it and
// records it. A plan with any conflict applies nothing and answers
// ErrConflict (a dry run reports the conflicts in the changes instead).
func (e *Enforcer) Enforce(ctx context.Context, c Clients, who string, req EnforceRequest) (Result, error) {
	if err := req.Validate(); err != nil {
		return Result{}, err
	}
	if c.Kube == nil || c.Istio == nil {
		return Result{}, errors.New("enforce: both a Kubernetes and an Istio client are needed")
	}
	steps, err := e.plan(ctx, c, req)
	if err != nil {
		return Result{}, err
	}
	res := Result{DryRun: req.DryRun, ServerValidated: honoursDryRun(c), Changes: make([]Change, 0, len(steps))}
	if req.Scope == ScopeMesh && req.Mode == ModeDestinationRule {
		if res.Warnings, err = shadowingRules(ctx, c); err != nil {
			return Result{}, err
		}
	}
	for _, s := range steps {
		res.Changes = append(res.Changes, s.change)
	}
	if req.DryRun {
		if res.ServerValidated {
			for i, s := range steps {
				if s.change.Action == ActionUnchanged || s.change.Conflict != "" {
					continue
				}
				obj, err := e.write(ctx, c, s.write, true)
				if err != nil {
					return Result{}, e.writeError(s.write, err, "the dry run")
				}
				if res.Changes[i].YAML, err = objectYAML(obj); err != nil {
					return Result{}, err
				}
			}
		}
		return res, nil
	}
	for _, s := range steps {
		if s.change.Conflict != "" {
			return res, newError(ErrConflict, "%s %s/%s: %s; nothing was applied", s.change.Kind, s.change.Namespace, s.change.Name, s.change.Conflict)
		}
	}
	return e.apply(ctx, c, who, req, steps, res)
}

func (e *Enforcer) apply(ctx context.Context, c Clients, who string, req EnforceRequest, steps []planStep, res Result) (Result, error) {
	now := e.opts.Now().UTC()
	action := Action{
		ID: newActionID(now), Who: who, At: now,
		Scope: req.Scope, Mode: req.Mode, Namespace: req.Namespace, Service: req.Service,
		Objects: []ActionObject{},
	}
	var done []appliedWrite
	for i, s := range steps {
		if s.change.Action == ActionUnchanged {
			continue
		}
		if e.opts.BeforeWrite != nil {
			e.opts.BeforeWrite(ctx, s.change)
		}
		obj, err := e.write(ctx, c, s.write, false)
		if err != nil {
			rbErr := e.rollback(ctx, c, done)
			return Result{}, withRollback(e.writeError(s.write, err, "applying"), rbErr)
		}
		done = append(done, appliedWrite{write: s.write, result: obj})
		yaml, err := objectYAML(obj)
		if err != nil {
			rbErr := e.rollback(ctx, c, done)
			return Result{}, withRollback(err, rbErr)
		}
		res.Changes[i].YAML = yaml
		action.Objects = append(action.Objects, ActionObject{
			Kind: s.write.kind, Namespace: s.write.namespace, Name: s.write.name, Action: s.change.Action,
			Previous: s.previous, After: yaml, ResourceVersion: obj.GetResourceVersion(), UID: string(obj.GetUID()),
			Undo: s.write.inverse,
		})
	}
	if err := e.saveAction(ctx, c, action); err != nil {
		rbErr := e.rollback(ctx, c, done)
		return Result{}, withRollback(fmt.Errorf("recording the action in namespace %s (so nothing was applied): %w", e.opts.AuditNamespace, err), rbErr)
	}
	for _, d := range done {
		e.emitEvent(ctx, c, d.result, d.write.kind, "MeshlockEnforced",
			fmt.Sprintf("meshlock action %s by %s: %s %s mTLS (%s scope)", action.ID, who, actionVerb(d.write), modeWord(req.Mode), req.Scope))
	}
	e.opts.Logger.Info("enforce applied", "action", action.ID, "who", who, "scope", req.Scope, "mode", req.Mode,
		"namespace", req.Namespace, "service", req.Service, "objects", len(action.Objects))
	res.ActionID = action.ID
	return res, nil
}

func actionVerb(w objectWrite) string {
	if w.create != nil {
		return "created to enforce"
	}
	return "updated to enforce"
}

func modeWord(mode string) string {
	if mode == ModePeerAuthentication {
		return "STRICT"
	}
	return "ISTIO_MUTUAL"
}

// writeError turns a failed write into the error the web layer maps:
// Forbidden unchanged, a stale resourceVersion or an object created
// meanwhile → ErrConflict naming it, a missing namespace → ErrNotFound.
func (e *Enforcer) writeError(w objectWrite, err error, during string) error {
	ref := fmt.Sprintf("%s %s/%s", w.kind, w.namespace, w.name)
	var ee *enforceError
	switch {
	case errors.As(err, &ee):
		return err
	case apierrors.IsForbidden(err):
		return err
	case apierrors.IsConflict(err):
		return &enforceError{kind: ErrConflict, cause: err, msg: fmt.Sprintf("%s was changed by someone else after meshlock read it; nothing was applied, read the plan again", ref)}
	case apierrors.IsAlreadyExists(err):
		return &enforceError{kind: ErrConflict, cause: err, msg: fmt.Sprintf("%s was created by someone else after meshlock read the namespace; nothing was applied, read the plan again", ref)}
	case apierrors.IsNotFound(err) && w.create != nil:
		return &enforceError{kind: ErrNotFound, cause: err, msg: fmt.Sprintf("cannot create %s: %v", ref, err)}
	case apierrors.IsNotFound(err):
		return &enforceError{kind: ErrConflict, cause: err, msg: fmt.Sprintf("%s was deleted by someone else after meshlock read it; nothing was applied", ref)}
	}
	return fmt.Errorf("%s of %s: %w", during, ref, err)
}

func withRollback(err, rollbackErr error) error {
	if rollbackErr == nil {
		return err
	}
	var ee *enforceError
	if errors.As(err, &ee) {
		return &enforceError{kind: ee.kind, cause: errors.Join(ee.cause, rollbackErr),
			msg: strings.TrimSuffix(ee.msg, "; nothing was applied, read the plan again") + "; and rolling back failed: " + rollbackErr.Error()}
	}
	return fmt.Errorf("%w; and rolling back failed: %w", err, rollbackErr)
}

type appliedWrite struct {
	write  objectWrite
	result istioObject
}

// rollback undoes writes of this action in reverse order, each guarded by
// the resourceVersion the write produced, so a rollback never overwrites a
// later change by someone else.
func (e *Enforcer) rollback(ctx context.Context, c Clients, done []appliedWrite) error {
	// The request's context may be what failed; a rollback must still run.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	var errs []error
	for _, d := range slices.Backward(done) {
		inv := d.write.invert(d.result)
		if _, err := e.write(ctx, c, inv, false); err != nil {
			errs = append(errs, fmt.Errorf("%s %s/%s: %w", d.write.kind, d.write.namespace, d.write.name, err))
			e.opts.Logger.Error("rollback failed", "kind", d.write.kind, "namespace", d.write.namespace, "name", d.write.name, "error", err)
		}
	}
	return errors.Join(errs...)
}

// getServices reads the Services of the scope, sorted by name. Namespace
// scope takes the Services that select pods: a Service without a selector
// (the API server's own "kubernetes", an ExternalName, hand-made Endpoints)
// points outside the mesh, where ISTIO_MUTUAL would cut every caller off.
func getServices(ctx context.Context, c Clients, req EnforceRequest) ([]serviceRef, error) {
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
