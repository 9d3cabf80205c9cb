// KubeReviewer: checks bearer tokens (TokenReview) and read rights (SubjectAccessReview), caching
// answers briefly but never API errors, with a bound on concurrent reviews.

package web

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/meshlock/meshlock/internal/k8s"
)

// KubeReviewerOptions configures a KubeReviewer.
type KubeReviewerOptions struct {
	// Kube is the server's own client: it creates the TokenReviews and
	// SubjectAccessReviews (the user's token may not be allowed to). Required.
	Kube kubernetes.Interface
	// TTL is how long an answer (also a rejection) is kept. It must not
	// exceed the refresh interval, so that a revoked token or right stops
	// working within one refresh. Default 2s.
	TTL time.Duration
	// MaxEntries bounds each cache (tokens, access reviews). Default 10000.
	MaxEntries int
	// MaxInFlight bounds the reviews being asked at once, so that a flood of
	// distinct bad tokens costs the API server a bounded rate. Default 16.
	MaxInFlight int
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// KubeReviewer checks bearer tokens with TokenReviews and read rights with
// SubjectAccessReviews, caching both answers briefly. Errors talking to the
// API server are never cached, so an outage does not lock anyone out for
// longer than it lasts.
type KubeReviewer struct {
	opts     KubeReviewerOptions
	tokens   *answerCache[tokenAnswer]
	access   *answerCache[bool]
	inFlight chan struct{}
}

type tokenAnswer struct {
	user authenticationv1.UserInfo
	// rejected is Kubernetes' reason when the token did not pass.
	rejected string
}

// Defaults of KubeReviewerOptions.
const (
	defaultReviewTTL      = 2 * time.Second
	defaultReviewEntries  = 10000
	defaultReviewInFlight = 16
)

// NewKubeReviewer checks opts.
func NewKubeReviewer(opts KubeReviewerOptions) (*KubeReviewer, error) {
	if opts.Kube == nil {
		return nil, errors.New("web: KubeReviewerOptions.Kube is required")
	}
	if opts.TTL < 0 || opts.MaxEntries < 0 || opts.MaxInFlight < 0 {
		return nil, errors.New("web: KubeReviewerOptions must not be negative")
	}
	if opts.TTL == 0 {
		opts.TTL = defaultReviewTTL
	}
	if opts.MaxEntries == 0 {
		opts.MaxEntries = defaultReviewEntries
	}
	if opts.MaxInFlight == 0 {
		opts.MaxInFlight = defaultReviewInFlight
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &KubeReviewer{
		opts:     opts,
		tokens:   newAnswerCache[tokenAnswer](opts.MaxEntries),
		access:   newAnswerCache[bool](opts.MaxEntries),
		inFlight: make(chan struct{}, opts.MaxInFlight),
	}, nil
}

// acquire waits for a free review slot, or for ctx.
func (k *KubeReviewer) acquire(ctx context.Context) (func(), error) {
	select {
	case k.inFlight <- struct{}{}:
		return func() { <-k.inFlight }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting to ask Kubernetes: %w", ctx.Err())
	}
}

// ReviewToken answers the token's user, or an error wrapping
// k8s.ErrUnauthenticated when Kubernetes rejects it (or it is a JWT past
// its exp); any other error means Kubernetes could not be asked.
func (k *KubeReviewer) ReviewToken(ctx context.Context, token string) (authenticationv1.UserInfo, error) {
	now := k.opts.Now()
	expires, hasExpiry := tokenExpiry(token)
	if hasExpiry && !now.Before(expires) {
		return authenticationv1.UserInfo{}, fmt.Errorf("%w: the token has expired", k8s.ErrUnauthenticated)
	}
	key := cacheKey("token", token)
	if answer, ok := k.tokens.get(key, now); ok {
		return answer.result()
	}
	release, err := k.acquire(ctx)
	if err != nil {
		return authenticationv1.UserInfo{}, err
	}
	defer release()
	review, err := k.opts.Kube.AuthenticationV1().TokenReviews().Create(ctx,
		&authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: token}}, metav1.CreateOptions{})
	if err != nil {
		return authenticationv1.UserInfo{}, fmt.Errorf("token review: %w", err)
	}
	answer := tokenAnswer{user: review.Status.User}
	if !review.Status.Authenticated {
		answer = tokenAnswer{rejected: review.Status.Error}
		if answer.rejected == "" {
			answer.rejected = "the token was not accepted"
		}
	}
	until := now.Add(k.opts.TTL)
	if hasExpiry && expires.Before(until) {
		until = expires
	}
	k.tokens.put(key, answer, until, now)
	return answer.result()
}

func (a tokenAnswer) result() (authenticationv1.UserInfo, error) {
	if a.rejected != "" {
		return authenticationv1.UserInfo{}, fmt.Errorf("%w: %s", k8s.ErrUnauthenticated, a.rejected)
	}
	return a.user, nil
}

// CanListServices says whether Kubernetes lets user list Services in
// namespace ("" asks for every namespace): the right that decides what of
// the mesh a user sees.
func (k *KubeReviewer) CanListServices(ctx context.Context, user authenticationv1.UserInfo, namespace string) (bool, error) {
	return k.allowed(ctx, user, &authorizationv1.ResourceAttributes{Namespace: namespace, Verb: "list", Resource: "services"}, nil)
}

// CanGet says whether Kubernetes lets user get a non-resource path such as
// /metrics, as kube-rbac-proxy asks it (nonResourceURLs in a ClusterRole).
func (k *KubeReviewer) CanGet(ctx context.Context, user authenticationv1.UserInfo, path string) (bool, error) {
	return k.allowed(ctx, user, nil, &authorizationv1.NonResourceAttributes{Path: path, Verb: "get"})
}

func (k *KubeReviewer) allowed(ctx context.Context, user authenticationv1.UserInfo,
	resource *authorizationv1.ResourceAttributes, nonResource *authorizationv1.NonResourceAttributes) (bool, error) {
	spec := authorizationv1.SubjectAccessReviewSpec{
		ResourceAttributes: resource, NonResourceAttributes: nonResource,
		User: user.Username, UID: user.UID, Groups: user.Groups,
	}
	if len(user.Extra) > 0 {
		spec.Extra = make(map[string]authorizationv1.ExtraValue, len(user.Extra))
		for name, values := range user.Extra {
			spec.Extra[name] = authorizationv1.ExtraValue(values)
		}
	}
	// encoding/json sorts map keys, so equal specs give equal keys.
	encoded, err := json.Marshal(spec)
	if err != nil {
		return false, err
	}
	now := k.opts.Now()
	key := cacheKey("access", string(encoded))
	if allowed, ok := k.access.get(key, now); ok {
		return allowed, nil
	}
	release, err := k.acquire(ctx)
	if err != nil {
		return false, err
	}
	defer release()
	review, err := k.opts.Kube.AuthorizationV1().SubjectAccessReviews().Create(ctx,
		&authorizationv1.SubjectAccessReview{Spec: spec}, metav1.CreateOptions{})
	if err != nil {
		return false, fmt.Errorf("subject access review: %w", err)
	}
	if review.Status.EvaluationError != "" && !review.Status.Allowed && !review.Status.Denied {
		// An authorizer failed: not an answer to keep.
		return false, fmt.Errorf("subject access review: %s", review.Status.EvaluationError)
	}
	k.access.put(key, review.Status.Allowed, now.Add(k.opts.TTL), now)
	return review.Status.Allowed, nil
}

// tokenExpiry reads the exp claim of a JWT without verifying it (the
// TokenReview verifies the token); ok is false for any other token.
func tokenExpiry(token string) (time.Time, bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 || len(parts[1]) > 16<<10 {
		return time.Time{}, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return time.Time{}, false
	}
	var claims struct {
		Exp *json.Number `json:"exp"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil || claims.Exp == nil {
		return time.Time{}, false
	}
	exp, err := claims.Exp.Float64()
	if err != nil || exp <= 0 || exp > 1e11 {
		return time.Time{}, false
	}
	return time.Unix(int64(exp), 0), true
}

// sortedCopy returns the namespaces of a set, sorted (for logs and tests).
func sortedCopy(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for ns := range set {
		out = append(out, ns)
	}
	slices.Sort(out)
	return out
}
