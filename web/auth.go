// Authentication and read authorisation: --auth=none (the server's identity) or --auth=token
// (TokenReview, with the namespaces a user may see), and the middleware that applies them.

package web

import (
	"context"
	"errors"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"

	"github.com/meshlock/meshlock/internal/k8s"
)

// Actor is who a request acts as, and the Kubernetes clients that carry
// that identity, so Kubernetes RBAC decides what it may change.
type Actor struct {
	Who     string
	Clients k8s.Clients
	// ClusterClients, with several clusters, carry the identity in each,
	// by cluster name.
	ClusterClients map[string]k8s.Clients
	// User is the user Kubernetes' TokenReview answered (token mode only):
	// SubjectAccessReviews ask about exactly this user. With several
	// clusters it is the first accepting cluster's, in name order.
	User authenticationv1.UserInfo
	// ClusterUsers, in token mode with several clusters, are the users of
	// the clusters that accepted the token, by cluster name: each cluster
	// reviews the token itself, and the others are hidden from the actor.
	ClusterUsers map[string]authenticationv1.UserInfo

	// token is rechecked while a stream is open (token mode only).
	token string
	// expires is the token's exp claim when it is a JWT, else zero.
	expires time.Time
}

// WhoIn is the actor's name in cluster: the user that cluster's own
// TokenReview answered, for its audit trail; Who otherwise.
func (a Actor) WhoIn(cluster string) string {
	if u, ok := a.ClusterUsers[cluster]; ok && cluster != "" {
		return u.Username
	}
	return a.Who
}

// Authenticator decides the actor of an /api/ request. An error wrapping
// k8s.ErrUnauthenticated answers 401.
type Authenticator interface {
	Authenticate(r *http.Request) (Actor, error)
}

// readAuthorizer is an Authenticator whose actors may see only part of the
// mesh and whose credentials can stop being valid (TokenAuth). An
// Authenticator without it (ServerIdentity) lets everyone see everything.
type readAuthorizer interface {
	// canRead says whether actor may see namespace, a namespace key
	// ("<cluster>/<namespace>" with several clusters); "" asks for all.
	canRead(ctx context.Context, actor Actor, namespace string) (bool, error)
	// canGetMetrics says whether actor may read /metrics.
	canGetMetrics(ctx context.Context, actor Actor) (bool, error)
	// recheck answers an error wrapping k8s.ErrUnauthenticated once the
	// actor's token no longer passes.
	recheck(ctx context.Context, actor Actor) error
}

// ServerIdentity is --auth=none: whoever reaches the port acts with the
// server's own Kubernetes identity.
type ServerIdentity struct{ Actor Actor }

// Authenticate always answers the server's identity.
func (s ServerIdentity) Authenticate(*http.Request) (Actor, error) { return s.Actor, nil }

// TokenAuth is --auth=token: the bearer token is checked with a TokenReview
// and the request acts with that token. Reads are authorised too: an actor
// sees the namespaces where Kubernetes lets them list Services.
type TokenAuth struct {
	// Reviewer checks tokens and rights with cached TokenReviews and
	// SubjectAccessReviews. Without it, Review authenticates and no read
	// right can be checked, so nothing of the mesh is shown.
	Reviewer *KubeReviewer
	// Review answers the token's user name, or an error wrapping
	// k8s.ErrUnauthenticated. Used only when Reviewer is nil.
	Review func(ctx context.Context, token string) (string, error)
	// ClientsFor builds clients that authenticate with the token.
	ClientsFor func(token string) (k8s.Clients, error)
	// Clusters, with several clusters, review the token each in its own
	// cluster, by cluster name (Reviewer, Review and ClientsFor are then
	// unused): a cluster that does not accept it is hidden from its user.
	Clusters map[string]ClusterTokenAuth
}

// ClusterTokenAuth is one cluster's side of TokenAuth with several clusters.
type ClusterTokenAuth struct {
	// Reviewer asks this cluster's TokenReviews and SubjectAccessReviews.
	// Required.
	Reviewer *KubeReviewer
	// ClientsFor builds clients of this cluster that authenticate with
	// the token. Required.
	ClientsFor func(token string) (k8s.Clients, error)
}

// bearerToken reads Authorization: Bearer <token>.
func bearerToken(r *http.Request) (string, error) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || strings.TrimSpace(token) == "" {
		return "", errors.Join(k8s.ErrUnauthenticated, errors.New("send Authorization: Bearer <Kubernetes token>"))
	}
	return strings.TrimSpace(token), nil
}

// Authenticate checks the Authorization header.
func (a TokenAuth) Authenticate(r *http.Request) (Actor, error) {
	token, err := bearerToken(r)
	if err != nil {
		return Actor{}, err
	}
	if len(a.Clusters) > 0 {
		return a.authenticateClusters(r.Context(), token, sourceOf(r))
	}
	user, err := a.review(r.Context(), token, sourceOf(r))
	if err != nil {
		return Actor{}, err
	}
	clients, err := a.ClientsFor(token)
	if err != nil {
		return Actor{}, err
	}
	actor := Actor{Who: user.Username, Clients: clients, User: user, token: token}
	actor.expires, _ = tokenExpiry(token)
	return actor, nil
}

// review checks token for a request from source ("" for a token already
// known: a stream's recheck, never rate-limited).
func (a TokenAuth) review(ctx context.Context, token, source string) (authenticationv1.UserInfo, error) {
	if a.Reviewer != nil {
		return a.Reviewer.ReviewTokenFrom(ctx, token, source)
	}
	who, err := a.Review(ctx, token)
	return authenticationv1.UserInfo{Username: who}, err
}

func (a TokenAuth) canRead(ctx context.Context, actor Actor, namespace string) (bool, error) {
	if len(a.Clusters) > 0 {
		return a.canReadClusters(ctx, actor, namespace)
	}
	if a.Reviewer == nil {
		return false, nil
	}
	return a.Reviewer.CanListServices(ctx, actor.User, namespace)
}

func (a TokenAuth) canGetMetrics(ctx context.Context, actor Actor) (bool, error) {
	if len(a.Clusters) > 0 {
		return a.canGetMetricsClusters(ctx, actor)
	}
	if a.Reviewer == nil {
		return false, nil
	}
	return a.Reviewer.CanGet(ctx, actor.User, "/metrics")
}

func (a TokenAuth) recheck(ctx context.Context, actor Actor) error {
	if len(a.Clusters) > 0 {
		return a.recheckClusters(ctx, actor)
	}
	user, err := a.review(ctx, actor.token, "")
	if err != nil {
		return err
	}
	if user.Username != actor.User.Username || user.UID != actor.User.UID {
		return errors.Join(k8s.ErrUnauthenticated, errors.New("the token now belongs to another user"))
	}
	return nil
}

// access is what the request's actor may read; handlers and the stream
// filter everything they show through it.
type access struct {
	actor Actor
	auth  readAuthorizer // nil: everything
}

type accessKey struct{}

// accessOf is the request's access; a request that did not pass
// authenticate (only in tests of the hub alone) sees everything.
func accessOf(ctx context.Context) access {
	a, _ := ctx.Value(accessKey{}).(access)
	return a
}

// maxParallelReviews bounds the SubjectAccessReviews one request asks at once.
const maxParallelReviews = 8

// visible answers which of candidates the actor may see: all is true when
// they may see every namespace (one cluster-wide review, or auth=none).
// An error means Kubernetes could not be asked; nothing should be shown then.
func (a access) visible(ctx context.Context, candidates []string) (all bool, namespaces map[string]bool, err error) {
	if a.auth == nil {
		return true, nil, nil
	}
	if ok, err := a.auth.canRead(ctx, a.actor, ""); err != nil {
		return false, nil, err
	} else if ok {
		return true, nil, nil
	}
	namespaces = make(map[string]bool, len(candidates))
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
		slots    = make(chan struct{}, maxParallelReviews)
	)
	for _, ns := range candidates {
		if ns == "" {
			continue
		}
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer func() { <-slots; wg.Done() }()
			ok, err := a.auth.canRead(ctx, a.actor, ns)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && firstErr == nil {
				firstErr = err
			}
			if ok {
				namespaces[ns] = true
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return false, nil, firstErr
	}
	return false, namespaces, nil
}

// recheck answers an error wrapping k8s.ErrUnauthenticated once the token
// no longer passes a TokenReview (nil when there is no token).
func (a access) recheck(ctx context.Context) error {
	if a.auth == nil || a.actor.token == "" {
		return nil
	}
	return a.auth.recheck(ctx, a.actor)
}

type actorKey struct{}

// authFailure answers a request whose token was missing or rejected
// (unauthenticated true) or could not be checked.
type authFailure func(w http.ResponseWriter, r *http.Request, status int, message string)

func jsonAuthFailure(w http.ResponseWriter, _ *http.Request, status int, message string) {
	writeError(w, status, message)
}

// authenticate puts the request's actor in its context, or answers 401
// (JSON: every /api/ route).
func (h *handlers) authenticate(next http.Handler) http.Handler {
	return h.authenticateWith(jsonAuthFailure, next)
}

func (h *handlers) authenticateWith(fail authFailure, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		actor, err := h.opts.Auth.Authenticate(r)
		switch {
		case errors.Is(err, k8s.ErrUnauthenticated):
			w.Header().Set("WWW-Authenticate", `Bearer realm="meshlock"`)
			fail(w, r, http.StatusUnauthorized, err.Error())
			return
		case errors.Is(err, ErrTooManyReviews):
			w.Header().Set("Retry-After", "1")
			fail(w, r, http.StatusTooManyRequests, err.Error())
			return
		case err != nil:
			h.opts.Logger.Error("authenticating a request", "error", err)
			fail(w, r, http.StatusServiceUnavailable, "could not check the token with Kubernetes: "+err.Error())
			return
		}
		a := access{actor: actor}
		if auth, ok := h.opts.Auth.(readAuthorizer); ok {
			a.auth = auth
		}
		ctx := context.WithValue(r.Context(), actorKey{}, actor)
		ctx = context.WithValue(ctx, accessKey{}, a)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// requireMetricsRight lets through the actors that may get /metrics (in
// token mode a SubjectAccessReview of the non-resource URL, as
// kube-rbac-proxy asks it); with auth=none everyone may.
func (h *handlers) requireMetricsRight(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := accessOf(r.Context())
		if a.auth != nil {
			ok, err := a.auth.canGetMetrics(r.Context(), a.actor)
			if err != nil {
				h.opts.Logger.Error("checking the right to read /metrics", "error", err)
				writeError(w, http.StatusServiceUnavailable, "could not check your rights with Kubernetes: "+err.Error())
				return
			}
			if !ok {
				writeError(w, http.StatusForbidden, "Kubernetes does not let "+quoteInput(a.actor.Who)+" get /metrics (nonResourceURLs: [/metrics], verbs: [get])")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func actorOf(r *http.Request) Actor {
	actor, _ := r.Context().Value(actorKey{}).(Actor)
	return actor
}

// visibleNamespaces says what of the mesh the request's actor may see, for
// every handler that shows cluster data (the graph, the page, the stream,
// the actions list and audit details): all is true when they may see every
// namespace (auth=none, or a right to list Services cluster-wide);
// otherwise namespaces holds those of the current snapshot in which
// Kubernetes lets them list Services (use namespaceVisible for a namespace
// the snapshot may not have). When Kubernetes cannot be asked, the answer
// is nothing (false, empty map): reads fail closed.
func (h *handlers) visibleNamespaces(r *http.Request) (all bool, namespaces map[string]bool) {
	all, namespaces, err := accessOf(r.Context()).visible(r.Context(), snapshotNamespaces(h.opts.Graph.Snapshot()))
	if err != nil {
		h.opts.Logger.Warn("could not check read rights with Kubernetes; showing nothing", "error", err)
		return false, map[string]bool{}
	}
	if namespaces == nil {
		namespaces = map[string]bool{}
	}
	return all, namespaces
}

// namespaceVisible says whether the request's actor may see namespace,
// whether or not the current snapshot has it; false when Kubernetes cannot
// be asked.
func (h *handlers) namespaceVisible(r *http.Request, namespace string) bool {
	candidates := []string{namespace}
	if !slices.Contains(snapshotNamespaces(h.opts.Graph.Snapshot()), namespace) {
		// Not in the mesh: only a right to every namespace shows it, and
		// no review is asked about the name itself.
		candidates = nil
	}
	all, namespaces, err := accessOf(r.Context()).visible(r.Context(), candidates)
	if err != nil {
		h.opts.Logger.Warn("could not check read rights with Kubernetes", "error", err)
		return false
	}
	return all || namespaces[namespace]
}

// sourceOf is the address a request came from (its TCP peer, without the
// port): the party that rate limits and per-party caps count, in
// --auth=none and for unknown tokens. Behind a proxy it is the proxy's.
func sourceOf(r *http.Request) string {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

// partyOf is who a request counts as for the per-party caps (streams, long
// queries): the reviewed user in token mode, else the source address.
func partyOf(a access, r *http.Request) string {
	if a.auth != nil && a.actor.User.Username != "" {
		return "user " + a.actor.User.Username + "/" + a.actor.User.UID
	}
	return "address " + sourceOf(r)
}
