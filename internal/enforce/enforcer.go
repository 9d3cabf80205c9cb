// The enforcement domain: Request and its validation, the Enforcer, and Enforce, which plans,
// dry-runs or applies mTLS enforcement with optimistic concurrency and rollback, and records it.

package enforce

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes"

	"github.com/meshlock/meshlock/internal/graph"
	"github.com/meshlock/meshlock/internal/istio"
	"github.com/meshlock/meshlock/internal/k8s"
)

// This file is meshlock's write side: it plans and applies what a Mode plans
// (mode.go; DestinationRules with ISTIO_MUTUAL, PeerAuthentications STRICT), with a
// server-side dry run for the preview, optimistic concurrency and a rollback
// when a multi-object action fails midway. audit.go records every applied
// action in the cluster and undoes it.

// Scopes and modes of a Request (see the contract, section Enforce).
const (
	ScopeMesh      = "mesh"
	ScopeNamespace = "namespace"
	ScopeService   = "service"

	ModeDestinationRule    = "destinationrule"
	ModePeerAuthentication = "peerauthentication"
	ModeAuthorization      = "authorization"
)

// Change actions.
const (
	ActionCreate    = "create"
	ActionUpdate    = "update"
	ActionUnchanged = "unchanged"
)

// Kinds meshlock writes.
const (
	KindDestinationRule     = "DestinationRule"
	KindPeerAuthentication  = "PeerAuthentication"
	KindAuthorizationPolicy = "AuthorizationPolicy"
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
	// ErrPlanChanged (409, an ErrConflict): an apply whose planId is not the
	// plan the live state gives now. Nothing was written; the Result that
	// comes with it is the new plan, as a dry run would answer it.
	ErrPlanChanged = fmt.Errorf("the plan changed: %w", ErrConflict)
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

// Request is the body of POST /api/enforce.
type Request struct {
	// Cluster is the cluster the change is for when meshlock watches
	// several (web picks that cluster's Enforcer and clients); the
	// Enforcer itself writes to the cluster of its clients.
	Cluster   string
	Scope     string
	Namespace string
	Service   string
	Mode      string
	DryRun    bool
	// PlanID is the planId of the dry run an apply carries out: an apply
	// needs it, so that what is written is exactly the plan a person saw.
	PlanID string
	// PolicyDryRun (mode authorization only) writes the policy with Istio's
	// istio.io/dry-run annotation: its decisions are logged, not enforced.
	PolicyDryRun bool
}

// Validate rejects what can never succeed: an unknown scope or mode, an
// invalid namespace (DNS-1123 label) or service name (DNS-1035 label, as
// Kubernetes requires of Services), a missing namespace or service, and a
// namespace or service given where the scope does not use it (so that a
// mistaken request never widens to the whole mesh or namespace).
func (r Request) Validate() error {
	if !r.DryRun && r.PlanID == "" {
		return newError(ErrInvalid, "an apply (dryRun false) needs the planId of the dry run whose plan it applies")
	}
	mode := modeOf(r.Mode)
	switch {
	case r.Mode == "":
		return newError(ErrInvalid, "mode is required: %s", modeNames())
	case mode == nil:
		return newError(ErrInvalid, "unknown mode %s: want %s", quoteClipped(r.Mode), modeNames())
	}
	if r.PolicyDryRun && r.Mode != ModeAuthorization {
		return newError(ErrInvalid, "policyDryRun is for mode %s only: Istio's istio.io/dry-run annotation is an AuthorizationPolicy's", ModeAuthorization)
	}
	if err := r.validateScope(); err != nil {
		return err
	}
	return mode.validate(r)
}

// validateScope checks the scope and the names it takes.
func (r Request) validateScope() error {
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
			return newError(ErrInvalid, "invalid service name %s: %s", quoteClipped(r.Service), strings.Join(errs, "; "))
		}
		return nil
	case "":
		return newError(ErrInvalid, "scope is required: %s, %s or %s", ScopeMesh, ScopeNamespace, ScopeService)
	default:
		return newError(ErrInvalid, "unknown scope %s: want %s, %s or %s", quoteClipped(r.Scope), ScopeMesh, ScopeNamespace, ScopeService)
	}
}

func validNamespace(ns string) error {
	if ns == "" {
		return newError(ErrInvalid, "a namespace is required")
	}
	if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
		return newError(ErrInvalid, "invalid namespace %s: %s", quoteClipped(ns), strings.Join(errs, "; "))
	}
	return nil
}

// quoteClipped quotes a name for an error message, shortened: what a client
// sent is never echoed back in full (a name is at most 63 characters, so
// the start says enough). It clips the quoted form, since quoting can make
// a string four times longer.
func quoteClipped(s string) string {
	const limit = 72
	q := strconv.Quote(s)
	if len(q) <= limit {
		return q
	}
	return strings.ToValidUTF8(q[:limit], "") + "…"
}

// Change is one object of a plan or of an applied action.
type Change struct {
	Action    string // create, update or unchanged
	Kind      string
	Namespace string
	Name      string
	// YAML is the object as the server stores (or would store) it, without
	// server-managed metadata.
	YAML string
	// Previous is the object as it is now (same form as YAML), empty for a
	// create: with YAML it shows the change as a diff.
	Previous string
	// Conflict, when set, says why this change cannot be applied.
	Conflict string
}

// Result answers an enforce request.
type Result struct {
	DryRun   bool
	ActionID string
	// PlanID identifies the plan (see planID): an apply must send it back.
	PlanID  string
	Changes []Change
	// ServerValidated is true when the API server ran admission and
	// validation on every create and update of the plan (a server-side dry
	// run, or the applied write itself). It is false against clients that
	// cannot dry-run (client-go's and Istio's fake clientsets of the demo),
	// where the YAML is computed locally.
	ServerValidated bool
	// Warnings say where the change will not have the effect a person
	// expects, though nothing stops it (e.g. rules that shadow a mesh rule).
	Warnings []string
	// authz is what mode authorization judged the callers with, for Preview.
	authz *authzPlan
}

// Options configure an Enforcer.
type Options struct {
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
	// LocalDryRun computes every plan locally instead of asking the API
	// server for a dry run: for an API that does not honour dryRun, such as
	// client-go's and Istio's fake clientsets (the demo), whose object
	// tracker would store a dry-run write.
	LocalDryRun bool
	// BeforeWrite, when set, is called before each write of an applied
	// action (not of a dry run, nor of a rollback). It exists for tests that
	// make a concurrent change real.
	BeforeWrite func(ctx context.Context, c Change)
	// Graph is the current graph (the live loop's snapshot, every cluster):
	// mode authorization allows the callers it has seen. Without it that
	// mode answers an error.
	Graph func() graph.Snapshot
}

// Enforcer plans, applies, records and undoes mTLS enforcement. It keeps no
// state of its own: every record lives in the cluster.
type Enforcer struct {
	opts Options
}

// New checks opts and fills in the defaults.
func New(opts Options) (*Enforcer, error) {
	if opts.RootNamespace == "" {
		opts.RootNamespace = istio.DefaultRootNamespace
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

func (e *Enforcer) auditClient(c k8s.Clients) kubernetes.Interface {
	if e.opts.AuditClient != nil {
		return e.opts.AuditClient
	}
	return c.Kube
}

// Enforce plans the request and, unless it is a dry run, applies it and
// records it. An apply must carry the planId of the plan the live state
// gives now: otherwise it writes nothing and answers the new plan with
// ErrPlanChanged. A plan with any conflict applies nothing and answers
// ErrConflict (a dry run reports the conflicts in the changes instead). A
// plan that changes nothing writes and records nothing.
func (e *Enforcer) Enforce(ctx context.Context, c k8s.Clients, who string, req Request) (Result, error) {
	if err := req.Validate(); err != nil {
		return Result{}, err
	}
	if c.Kube == nil || c.Istio == nil {
		return Result{}, errors.New("enforce: both a Kubernetes and an Istio client are needed")
	}
	mode := modeOf(req.Mode)
	p, err := mode.plan(ctx, e, c, req)
	if err != nil {
		return Result{}, err
	}
	steps := p.steps
	res := Result{DryRun: req.DryRun, PlanID: planID(req, steps), ServerValidated: !e.opts.LocalDryRun, Changes: make([]Change, 0, len(steps)), authz: p.authz}
	if res.Warnings, err = mode.warnings(ctx, e, c, req); err != nil {
		return Result{}, err
	}
	for _, s := range steps {
		res.Changes = append(res.Changes, s.change)
	}
	if req.DryRun || req.PlanID != res.PlanID {
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
		if !req.DryRun {
			res.DryRun = true // what it answers is a plan: nothing was applied
			return res, &enforceError{kind: ErrPlanChanged, msg: fmt.Sprintf(
				"the cluster changed since the plan was made, so nothing was applied: review the new plan and apply it with planId %s", res.PlanID)}
		}
		return res, nil
	}
	for _, s := range steps {
		if s.change.Conflict != "" {
			return res, newError(ErrConflict, "%s %s/%s: %s; nothing was applied", s.change.Kind, s.change.Namespace, s.change.Name, s.change.Conflict)
		}
	}
	if !slices.ContainsFunc(steps, func(s planStep) bool { return s.change.Action != ActionUnchanged }) {
		return res, nil // nothing to write, so nothing to record either
	}
	return e.apply(ctx, c, who, req, steps, res)
}

// planID hashes what an apply of the plan would do: the request, and for
// every change its action, object, the YAML it writes, the state it
// replaces, its conflict and the resourceVersion that guards it. The same
// live state gives the same id; any change to the objects gives another.
func planID(req Request, steps []planStep) string {
	h := sha256.New()
	enc := json.NewEncoder(h)
	_ = enc.Encode([]string{req.Scope, req.Namespace, req.Service, req.Mode})
	for _, s := range steps {
		_ = enc.Encode([]string{s.change.Action, s.change.Kind, s.change.Namespace, s.change.Name,
			s.change.YAML, s.previous, s.change.Conflict, s.write.resourceVersion})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

func (e *Enforcer) apply(ctx context.Context, c k8s.Clients, who string, req Request, steps []planStep, res Result) (Result, error) {
	now := e.opts.Now().UTC()
	action := Action{
		ID: newActionID(now), Who: who, At: now,
		Scope: req.Scope, Mode: req.Mode, Namespace: req.Namespace, Service: req.Service,
		Objects: []ActionObject{},
	}
	var done []appliedWrite
	// fail takes back what was written and, if anything was, records the
	// failed action with what the rollback achieved: the cluster was
	// changed, if only for a moment, and the trail must say so.
	fail := func(cause error) (Result, error) {
		outcome := e.rollback(ctx, c, done)
		rbErr := errors.Join(outcome...)
		if len(done) > 0 {
			e.recordFailure(ctx, c, action, outcome, cause, rbErr)
		}
		return Result{}, withRollback(cause, rbErr)
	}
	for i, s := range steps {
		if s.change.Action == ActionUnchanged {
			continue
		}
		if e.opts.BeforeWrite != nil {
			e.opts.BeforeWrite(ctx, s.change)
		}
		obj, err := e.write(ctx, c, s.write, false)
		if err != nil {
			return fail(e.writeError(s.write, err, "applying"))
		}
		done = append(done, appliedWrite{write: s.write, result: obj})
		yaml, yamlErr := objectYAML(obj)
		action.Objects = append(action.Objects, ActionObject{
			Kind: s.write.kind, Namespace: s.write.namespace, Name: s.write.name, Action: s.change.Action,
			Previous: s.previous, After: yaml, ResourceVersion: obj.GetResourceVersion(), UID: string(obj.GetUID()),
			Undo: s.write.inverse,
		})
		if yamlErr != nil {
			return fail(yamlErr)
		}
		res.Changes[i].YAML = yaml
	}
	if err := e.saveAction(ctx, c, action); err != nil {
		// The audit store just refused a record: no second one is attempted.
		rbErr := errors.Join(e.rollback(ctx, c, done)...)
		return Result{}, withRollback(fmt.Errorf("recording the action in namespace %s (so nothing was applied): %w", e.opts.AuditNamespace, err), rbErr)
	}
	for _, d := range done {
		e.emitEvent(ctx, c, d.result, d.write.kind, "MeshlockEnforced",
			fmt.Sprintf("meshlock action %s by %s: %s %s (%s scope)", action.ID, who, actionVerb(d.write), modeOf(req.Mode).effect(), req.Scope))
	}
	e.opts.Logger.Info("enforce applied", "action", action.ID, "who", who, "scope", req.Scope, "mode", req.Mode,
		"namespace", req.Namespace, "service", req.Service, "objects", len(action.Objects))
	res.ActionID = action.ID
	return res, nil
}

// rollbackActor is who an action that was rolled back at once is undone by.
const rollbackActor = "meshlock (rollback)"

// recordFailure saves the record of an action that failed midway: the
// error, and for each object written whether the rollback restored it. A
// complete rollback counts as the action's undo; after an incomplete one,
// Undo restores the objects the rollback could not. A failure to record is
// logged: the request's own error is what the caller needs.
func (e *Enforcer) recordFailure(ctx context.Context, c k8s.Clients, action Action, outcome []error, cause, rbErr error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	action.Error = cause.Error()
	for i := range action.Objects {
		action.Objects[i].RolledBack = i < len(outcome) && outcome[i] == nil
	}
	if rbErr == nil {
		now := e.opts.Now().UTC()
		action.RolledBack, action.UndoneAt, action.UndoneBy = true, &now, rollbackActor
	} else {
		action.RollbackError = rbErr.Error()
	}
	if err := e.saveAction(ctx, c, action); err != nil {
		e.opts.Logger.Error("could not record a failed action", "action", action.ID, "error", err, "cause", cause)
		return
	}
	e.opts.Logger.Warn("enforce failed and was rolled back", "action", action.ID, "who", action.Who,
		"complete", rbErr == nil, "error", cause)
}

func actionVerb(w objectWrite) string {
	if w.create != nil {
		return "created to enforce"
	}
	return "updated to enforce"
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
// later change by someone else. It answers the outcome of each write of
// done, in done's order (nil: restored).
func (e *Enforcer) rollback(ctx context.Context, c k8s.Clients, done []appliedWrite) []error {
	// The request's context may be what failed; a rollback must still run.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	outcome := make([]error, len(done))
	for i, d := range slices.Backward(done) {
		inv := d.write.invert(d.result)
		if _, err := e.write(ctx, c, inv, false); err != nil {
			outcome[i] = fmt.Errorf("%s %s/%s: %w", d.write.kind, d.write.namespace, d.write.name, err)
			e.opts.Logger.Error("rollback failed", "kind", d.write.kind, "namespace", d.write.namespace, "name", d.write.name, "error", err)
		}
	}
	return outcome
}
