// The audit trail of enforce actions: one ConfigMap per applied action, listing actions newest
// first, exactly-once Undo that restores each object's previous state, and Events on changed objects.

package enforce

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/meshlock/meshlock/internal/k8s"
)

// The audit trail: one ConfigMap per applied action in the audit namespace,
// labelled app.kubernetes.io/managed-by=meshlock, holding the action as
// JSON. Any replica lists and undoes it, a restart loses nothing, and the
// ConfigMap's resourceVersion makes marking an action undone exactly-once.

const (
	auditComponentLabel = "app.kubernetes.io/component"
	auditComponentValue = "audit-record"
	auditDataKey        = "action.json"
	auditNamePrefix     = "meshlock-action-"
)

// Action is one applied enforce action, as recorded in the cluster.
type Action struct {
	ID string `json:"id"`
	// Cluster is the cluster whose audit trail keeps it, set by whoever
	// reads the trails of several clusters (web); never stored.
	Cluster   string         `json:"cluster,omitempty"`
	Who       string         `json:"who"`
	At        time.Time      `json:"at"`
	Scope     string         `json:"scope"`
	Mode      string         `json:"mode"`
	Namespace string         `json:"namespace"`
	Service   string         `json:"service"`
	Objects   []ActionObject `json:"objects"`
	UndoneAt  *time.Time     `json:"undoneAt,omitempty"`
	UndoneBy  string         `json:"undoneBy,omitempty"`
	// Error, when set, says why the action failed midway; what it had
	// written was then rolled back. RolledBack says the rollback restored
	// every object (the action then counts as undone by "meshlock
	// (rollback)"); otherwise RollbackError says what it could not restore.
	Error         string `json:"error,omitempty"`
	RolledBack    bool   `json:"rolledBack,omitempty"`
	RollbackError string `json:"rollbackError,omitempty"`
}

// ActionObject is one object an action changed.
type ActionObject struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Action    string `json:"action"` // create or update
	// Previous is the object before the action (YAML without server-managed
	// metadata), or "absent" when the action created it.
	Previous string `json:"previous"`
	// After is the object right after the action.
	After string `json:"after"`
	// ResourceVersion and UID are the object's right after the action: undo
	// refuses when they have changed.
	ResourceVersion string `json:"resourceVersion"`
	UID             string `json:"uid,omitempty"`
	// Undo is the JSON patch that takes an update back exactly (only the
	// fields the action set), applied only while ResourceVersion still holds.
	Undo []patchOp `json:"undo,omitempty"`
	// RolledBack: the action failed and its rollback restored this object,
	// so Undo leaves it alone.
	RolledBack bool `json:"rolledBack,omitempty"`
}

var actionIDPattern = regexp.MustCompile(`^[0-9]{8}-[0-9]{6}-[0-9a-f]{8}$`)

// newActionID sorts by time and is a valid Kubernetes name part.
func newActionID(now time.Time) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return now.UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b)
}

func auditSelector() string {
	return labels.SelectorFromSet(labels.Set{ManagedByLabel: ManagedByValue, auditComponentLabel: auditComponentValue}).String()
}

func (e *Enforcer) saveAction(ctx context.Context, c k8s.Clients, a Action) error {
	data, err := json.Marshal(a)
	if err != nil {
		return err
	}
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{
			Name: auditNamePrefix + a.ID, Namespace: e.opts.AuditNamespace,
			Labels: map[string]string{ManagedByLabel: ManagedByValue, auditComponentLabel: auditComponentValue},
		},
		Data: map[string]string{auditDataKey: string(data)},
	}
	_, err = e.auditClient(c).CoreV1().ConfigMaps(e.opts.AuditNamespace).Create(ctx, cm, metav1.CreateOptions{FieldManager: e.opts.FieldManager})
	return err
}

func decodeAction(cm *corev1.ConfigMap) (Action, error) {
	var a Action
	if err := json.Unmarshal([]byte(cm.Data[auditDataKey]), &a); err != nil {
		return Action{}, fmt.Errorf("audit record %s/%s: %w", cm.Namespace, cm.Name, err)
	}
	return a, nil
}

// Actions lists the recorded actions, newest first. A record that cannot be
// read is logged and skipped rather than hiding every other one.
func (e *Enforcer) Actions(ctx context.Context, c k8s.Clients) ([]Action, error) {
	list, err := e.auditClient(c).CoreV1().ConfigMaps(e.opts.AuditNamespace).List(ctx, metav1.ListOptions{LabelSelector: auditSelector()})
	if err != nil {
		return nil, err
	}
	out := make([]Action, 0, len(list.Items))
	for i := range list.Items {
		a, err := decodeAction(&list.Items[i])
		if err != nil {
			e.opts.Logger.Warn("skipping an unreadable audit record", "error", err)
			continue
		}
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b Action) int {
		if c := b.At.Compare(a.At); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	return out, nil
}

// Undo restores every object the action changed to its exact previous
// state (deleting what it created). It refuses with ErrConflict, changing
// nothing, when any object changed since the action or the action was
// already undone; a failure midway puts back what it had restored.
func (e *Enforcer) Undo(ctx context.Context, c k8s.Clients, who, actionID string) (Action, error) {
	if !actionIDPattern.MatchString(actionID) {
		return Action{}, newError(ErrNotFound, "no action %q", actionID)
	}
	audit := e.auditClient(c).CoreV1().ConfigMaps(e.opts.AuditNamespace)
	cm, err := audit.Get(ctx, auditNamePrefix+actionID, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return Action{}, newError(ErrNotFound, "no action %q", actionID)
	}
	if err != nil {
		return Action{}, err
	}
	action, err := decodeAction(cm)
	if err != nil {
		return Action{}, err
	}
	if action.RolledBack {
		return action, newError(ErrConflict, "action %s failed while it was applied and was rolled back then (%s); there is nothing to undo", action.ID, action.Error)
	}
	if action.UndoneAt != nil {
		return action, newError(ErrConflict, "action %s was already undone by %s at %s", action.ID, action.UndoneBy, action.UndoneAt.Format(time.RFC3339))
	}

	// Plan the undo: every object must be exactly as the action left it.
	var writes []objectWrite
	for _, o := range slices.Backward(action.Objects) {
		if o.RolledBack {
			continue // restored when the action failed
		}
		ref := fmt.Sprintf("%s %s/%s", o.Kind, o.Namespace, o.Name)
		current, err := getObject(ctx, c, o.Kind, o.Namespace, o.Name)
		if apierrors.IsNotFound(err) {
			return action, newError(ErrConflict, "%s was deleted since action %s; nothing was undone", ref, action.ID)
		}
		if err != nil {
			return action, err
		}
		if changedSince(current, o) {
			return action, newError(ErrConflict, "%s was changed since action %s (by someone else); nothing was undone", ref, action.ID)
		}
		w := objectWrite{kind: o.Kind, namespace: o.Namespace, name: o.Name,
			resourceVersion: current.GetResourceVersion(), uid: string(current.GetUID()), fingerprint: fingerprint(current)}
		switch o.Action {
		case ActionCreate:
			w.delete = true
		case ActionUpdate:
			if len(o.Undo) == 0 {
				return action, fmt.Errorf("audit record of action %s holds no undo patch for %s", action.ID, ref)
			}
			w.ops = o.Undo
			// The forward patch is the inverse of the undo: it is what a
			// failed undo puts back.
			w.inverse, err = forwardOps(current, o.Undo)
			if err != nil {
				return action, err
			}
		default:
			return action, fmt.Errorf("audit record of action %s: unknown action %q for %s", action.ID, o.Action, ref)
		}
		writes = append(writes, w)
	}

	// Claim the record first: of two replicas undoing at once, one wins.
	now := e.opts.Now().UTC()
	claimed := action
	claimed.UndoneAt, claimed.UndoneBy = &now, who
	data, err := json.Marshal(claimed)
	if err != nil {
		return action, err
	}
	cm.Data[auditDataKey] = string(data)
	if cm, err = audit.Update(ctx, cm, metav1.UpdateOptions{FieldManager: e.opts.FieldManager}); err != nil {
		if apierrors.IsConflict(err) {
			return action, &enforceError{kind: ErrConflict, cause: err, msg: fmt.Sprintf("action %s is being undone by someone else", action.ID)}
		}
		return action, err
	}

	var done []undoneWrite
	for _, w := range writes {
		before, err := getObject(ctx, c, w.kind, w.namespace, w.name)
		if err == nil {
			var obj istioObject
			obj, err = e.write(ctx, c, w, false)
			if err == nil {
				done = append(done, undoneWrite{write: w, before: before, result: obj})
				continue
			}
		}
		restoreErr := e.redo(ctx, c, cm, action, done)
		return action, withRollback(e.undoError(w, err, action.ID), restoreErr)
	}
	for _, d := range done {
		obj := d.result
		if obj == nil {
			obj = d.before // deleted: the Event still names it
		}
		e.emitEvent(ctx, c, obj, d.write.kind, "MeshlockUndone", fmt.Sprintf("meshlock action %s undone by %s", action.ID, who))
	}
	e.opts.Logger.Info("enforce undone", "action", action.ID, "who", who, "objects", len(action.Objects))
	return claimed, nil
}

type undoneWrite struct {
	write  objectWrite
	before istioObject // the object as the action left it
	result istioObject // nil when deleted
}

// changedSince reports whether current is no longer what action object o left.
func changedSince(current istioObject, o ActionObject) bool {
	if o.ResourceVersion != "" && current.GetResourceVersion() != o.ResourceVersion {
		return true
	}
	if o.UID != "" && string(current.GetUID()) != o.UID {
		return true
	}
	after, err := newObject(o.Kind)
	if err != nil {
		return true
	}
	if err := yamlToObject(o.After, after); err != nil {
		return true
	}
	return fingerprint(after) != fingerprint(current)
}

// forwardOps is the patch that takes the undone object back to current: for
// every path the undo patch touches, current's value (or its absence).
func forwardOps(current istioObject, undo []patchOp) ([]patchOp, error) {
	doc, err := toDoc(current)
	if err != nil {
		return nil, err
	}
	b := &patchBuilder{doc: doc}
	for _, op := range undo {
		// The undo patch's inverse is built the same way the action's was.
		path, err := splitPointer(op.Path)
		if err != nil {
			return nil, err
		}
		ok := false
		switch op.Op {
		case "remove":
			ok = b.remove(path...)
		case "add":
			ok = b.set(op.Value, path...)
		}
		if !ok {
			return nil, fmt.Errorf("the recorded undo operation %s %s does not fit %s/%s", op.Op, op.Path, current.GetNamespace(), current.GetName())
		}
	}
	return b.inverse, nil
}

// redo puts back what a failed undo had restored and releases the claim on
// the record, with the resourceVersions the objects now have.
func (e *Enforcer) redo(ctx context.Context, c k8s.Clients, cm *corev1.ConfigMap, action Action, done []undoneWrite) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	var errs []error
	for _, d := range slices.Backward(done) {
		var back objectWrite
		if d.result == nil {
			recreated := d.before.DeepCopyObject().(istioObject)
			recreated.SetResourceVersion("")
			recreated.SetUID("")
			recreated.SetManagedFields(nil)
			back = objectWrite{kind: d.write.kind, namespace: d.write.namespace, name: d.write.name, create: recreated}
		} else {
			back = d.write.invert(d.result)
		}
		obj, err := e.write(ctx, c, back, false)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s %s/%s: %w", d.write.kind, d.write.namespace, d.write.name, err))
			continue
		}
		for i := range action.Objects {
			o := &action.Objects[i]
			if o.Kind == d.write.kind && o.Namespace == d.write.namespace && o.Name == d.write.name {
				o.ResourceVersion, o.UID = obj.GetResourceVersion(), string(obj.GetUID())
			}
		}
	}
	data, err := json.Marshal(action)
	if err == nil {
		cm.Data[auditDataKey] = string(data)
		_, err = e.auditClient(c).CoreV1().ConfigMaps(e.opts.AuditNamespace).Update(ctx, cm, metav1.UpdateOptions{FieldManager: e.opts.FieldManager})
	}
	if err != nil {
		errs = append(errs, fmt.Errorf("releasing audit record of action %s: %w", action.ID, err))
	}
	return errors.Join(errs...)
}

func (e *Enforcer) undoError(w objectWrite, err error, id string) error {
	ref := fmt.Sprintf("%s %s/%s", w.kind, w.namespace, w.name)
	switch {
	case apierrors.IsForbidden(err):
		return err
	case apierrors.IsConflict(err), apierrors.IsNotFound(err):
		return &enforceError{kind: ErrConflict, cause: err, msg: fmt.Sprintf("%s was changed by someone else while action %s was being undone; the undo was taken back", ref, id)}
	}
	return fmt.Errorf("undoing %s: %w", ref, err)
}

// emitEvent records an Event on obj, with the audit identity. Events are
// best effort, as in Kubernetes itself: a failure is logged.
func (e *Enforcer) emitEvent(ctx context.Context, c k8s.Clients, obj istioObject, kind, reason, note string) {
	apiVersion, _ := typeMeta(obj)
	now := e.opts.Now()
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	instance, _ := os.Hostname()
	if instance == "" {
		instance = "meshlock"
	}
	ev := &eventsv1.Event{
		ObjectMeta: metav1.ObjectMeta{
			Name:      fmt.Sprintf("%s.%x%x", obj.GetName(), now.UnixNano(), suffix),
			Namespace: obj.GetNamespace(),
			Labels:    map[string]string{ManagedByLabel: ManagedByValue},
		},
		EventTime:           metav1.NewMicroTime(now),
		ReportingController: "meshlock.io/enforcer",
		ReportingInstance:   instance,
		Action:              reason,
		Reason:              reason,
		Note:                note,
		Type:                corev1.EventTypeNormal,
		Regarding: corev1.ObjectReference{
			APIVersion: apiVersion, Kind: kind, Namespace: obj.GetNamespace(), Name: obj.GetName(),
			UID: obj.GetUID(), ResourceVersion: obj.GetResourceVersion(),
		},
	}
	if _, err := e.auditClient(c).EventsV1().Events(ev.Namespace).Create(ctx, ev, metav1.CreateOptions{}); err != nil {
		e.opts.Logger.Warn("could not record an Event", "reason", reason, "kind", kind, "namespace", ev.Namespace, "name", ev.Name, "error", err)
	}
}
