// KubeReviewer: checks bearer tokens (TokenReview) and read rights (SubjectAccessReview), caching
// answers briefly but never API errors; identical reviews in flight are merged, each kind has its
// own bound on concurrent reviews, and unknown tokens are reviewed at a bounded rate per source.

package web

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
	"golang.org/x/time/rate"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/meshlock/meshlock/internal/k8s"
)

// KubeReviewerOptions configures a KubeReviewer.
type KubeReviewerOptions struct {
	// Kube is the server's own client: it creates the SubjectAccessReviews
	// (the user's token may not be allowed to), and the TokenReviews when
	// TokenKube is nil. Required. The binary gives it a rate and burst of
	// its own (cmd/server's reviewQPS), apart from the informers' client.
	Kube kubernetes.Interface
	// TokenKube creates the TokenReviews: a client with a rate limit of its
	// own, so that a flood of unknown tokens cannot use up the rate that
	// known users' SubjectAccessReviews need. Default Kube.
	TokenKube kubernetes.Interface
	// TTL is how long an answer (also a rejection) is kept. It must not
	// exceed the refresh interval, so that a revoked token or right stops
	// working within one refresh. Default 2s.
	TTL time.Duration
	// AccessTTL is how long a SubjectAccessReview's answer is kept:
	// the binary keeps it one refresh, so that a user's rights are asked
	// once per refresh per namespace, whatever their streams and requests,
	// and a changed right shows within two refreshes. Default TTL.
	AccessTTL time.Duration
	// MaxEntries bounds each cache (tokens, access reviews). Default 10000.
	MaxEntries int
	// MaxInFlight bounds the reviews being asked at once, of each kind
	// (TokenReviews, SubjectAccessReviews), so that a flood of distinct bad
	// tokens costs the API server a bounded rate and never takes the slots
	// of known users' access reviews. Default 16.
	MaxInFlight int
	// UnknownTokenRate is how many tokens not in the cache one source
	// address may have reviewed per second, after a burst of
	// UnknownTokenBurst; past it the request answers 429 at once. Tokens
	// in the cache are never limited. Defaults 5 and 20.
	UnknownTokenRate  float64
	UnknownTokenBurst int
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// KubeReviewer checks bearer tokens with TokenReviews and read rights with
// SubjectAccessReviews, caching both answers briefly. Errors talking to the
// API server are never cached, so an outage does not lock anyone out for
// longer than it lasts.
type KubeReviewer struct {
	opts   KubeReviewerOptions
	tokens *answerCache[tokenAnswer]
	access *answerCache[bool]
	// known remembers, for knownTokenTTL, the tokens that passed a review:
	// when their answer expires they are reviewed again, but never held
	// back by the rate limit on unknown tokens.
	known       *answerCache[struct{}]
	tokenSlots  chan struct{} // TokenReviews of unknown tokens
	accessSlots chan struct{} // SubjectAccessReviews and known tokens' TokenReviews
	// flights merges identical reviews in flight: a thousand requests with
	// the same new token, or a user's streams at a refresh, ask once.
	flights singleflight.Group
	sources *sourceLimits
}

// ErrTooManyReviews: the request's source address has had too many unknown
// tokens reviewed lately; it answers 429.
var ErrTooManyReviews = errors.New("too many unknown tokens from this address: try again in a second")

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
	defaultTokenRate      = 5
	defaultTokenBurst     = 20
	// reviewTimeout bounds one review that several requests wait for: it
	// runs on its own context, so that one of them leaving does not fail
	// the others.
	reviewTimeout = 10 * time.Second
	knownTokenTTL = 10 * time.Minute
)

// NewKubeReviewer checks opts.
func NewKubeReviewer(opts KubeReviewerOptions) (*KubeReviewer, error) {
	if opts.Kube == nil {
		return nil, errors.New("web: KubeReviewerOptions.Kube is required")
	}
	if opts.TTL < 0 || opts.AccessTTL < 0 || opts.MaxEntries < 0 || opts.MaxInFlight < 0 || opts.UnknownTokenRate < 0 || opts.UnknownTokenBurst < 0 {
		return nil, errors.New("web: KubeReviewerOptions must not be negative")
	}
	if opts.TTL == 0 {
		opts.TTL = defaultReviewTTL
	}
	if opts.AccessTTL == 0 {
		opts.AccessTTL = opts.TTL
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
	if opts.TokenKube == nil {
		opts.TokenKube = opts.Kube
	}
	if opts.UnknownTokenRate == 0 {
		opts.UnknownTokenRate = defaultTokenRate
	}
	if opts.UnknownTokenBurst == 0 {
		opts.UnknownTokenBurst = defaultTokenBurst
	}
	return &KubeReviewer{
		opts:        opts,
		tokens:      newAnswerCache[tokenAnswer](opts.MaxEntries),
		access:      newAnswerCache[bool](opts.MaxEntries),
		known:       newAnswerCache[struct{}](opts.MaxEntries),
		tokenSlots:  make(chan struct{}, opts.MaxInFlight),
		accessSlots: make(chan struct{}, opts.MaxInFlight),
		sources:     newSourceLimits(rate.Limit(opts.UnknownTokenRate), opts.UnknownTokenBurst, opts.MaxEntries),
	}, nil
}

// review runs ask once for every caller asking for key at the same time,
// in one of slots, on a context of its own (bounded by reviewTimeout) so
// that a caller leaving does not fail the others; each caller waits at most
// for its own ctx. Without wait, no slot free is ErrTooManyReviews at once:
// unknown tokens never queue.
func review[T any](ctx context.Context, k *KubeReviewer, slots chan struct{}, wait bool, key [sha256.Size]byte, ask func(context.Context) (T, error)) (T, error) {
	result := k.flights.DoChan(string(key[:]), func() (any, error) {
		reviewCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), reviewTimeout)
		defer cancel()
		if !wait {
			select {
			case slots <- struct{}{}:
			default:
				return nil, ErrTooManyReviews
			}
		} else {
			select {
			case slots <- struct{}{}:
			case <-reviewCtx.Done():
				return nil, fmt.Errorf("waiting to ask Kubernetes: %w", reviewCtx.Err())
			}
		}
		defer func() { <-slots }()
		return ask(reviewCtx)
	})
	var zero T
	select {
	case r := <-result:
		if r.Err != nil {
			return zero, r.Err
		}
		return r.Val.(T), nil
	case <-ctx.Done():
		return zero, fmt.Errorf("waiting to ask Kubernetes: %w", ctx.Err())
	}
}

// ReviewToken answers the token's user, or an error wrapping
// k8s.ErrUnauthenticated when Kubernetes rejects it (or it is a JWT past
// its exp); any other error means Kubernetes could not be asked. It is
// ReviewTokenFrom without a source: never rate-limited (a stream's recheck
// of a token it already knows).
func (k *KubeReviewer) ReviewToken(ctx context.Context, token string) (authenticationv1.UserInfo, error) {
	return k.ReviewTokenFrom(ctx, token, "")
}

// ReviewTokenFrom is ReviewToken for a request from source (its address):
// a token not in the cache, and not one that passed a review lately, is
// reviewed only while source is within its rate (UnknownTokenRate), else
// ErrTooManyReviews at once.
func (k *KubeReviewer) ReviewTokenFrom(ctx context.Context, token, source string) (authenticationv1.UserInfo, error) {
	now := k.opts.Now()
	expires, hasExpiry := tokenExpiry(token)
	if hasExpiry && !now.Before(expires) {
		return authenticationv1.UserInfo{}, fmt.Errorf("%w: the token has expired", k8s.ErrUnauthenticated)
	}
	key := cacheKey("token", token)
	if answer, ok := k.tokens.get(key, now); ok {
		return answer.result()
	}
	// A known token (or a stream's recheck) is reviewed beside the access
	// reviews, with their client and slots, waiting its turn; an unknown
	// one with the unknown tokens' own, never waiting: so that a flood of
	// them is answered 429 at once and never delays a known user.
	_, known := k.known.get(key, now)
	known = known || source == ""
	slots, client := k.tokenSlots, k.opts.TokenKube
	if known {
		slots, client = k.accessSlots, k.opts.Kube
	}
	answer, err := review(ctx, k, slots, known, key, func(ctx context.Context) (tokenAnswer, error) {
		// Counted per review, not per request: requests that join this
		// one in flight cost nothing more.
		if !known && !k.sources.allow(source, now) {
			return tokenAnswer{}, ErrTooManyReviews
		}
		got, err := client.AuthenticationV1().TokenReviews().Create(ctx,
			&authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: token}}, metav1.CreateOptions{})
		if err != nil {
			return tokenAnswer{}, fmt.Errorf("token review: %w", err)
		}
		answer := tokenAnswer{user: got.Status.User}
		if !got.Status.Authenticated {
			answer = tokenAnswer{rejected: got.Status.Error}
			if answer.rejected == "" {
				answer.rejected = "the token was not accepted"
			}
		}
		until := now.Add(k.opts.TTL)
		if hasExpiry && expires.Before(until) {
			until = expires
		}
		k.tokens.put(key, answer, until, now)
		if answer.rejected == "" {
			k.known.put(key, struct{}{}, now.Add(knownTokenTTL), now)
		}
		return answer, nil
	})
	if err != nil {
		return authenticationv1.UserInfo{}, err
	}
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
	return review(ctx, k, k.accessSlots, true, key, func(ctx context.Context) (bool, error) {
		got, err := k.opts.Kube.AuthorizationV1().SubjectAccessReviews().Create(ctx,
			&authorizationv1.SubjectAccessReview{Spec: spec}, metav1.CreateOptions{})
		if err != nil {
			return false, fmt.Errorf("subject access review: %w", err)
		}
		if got.Status.EvaluationError != "" && !got.Status.Allowed && !got.Status.Denied {
			// An authorizer failed: not an answer to keep.
			return false, fmt.Errorf("subject access review: %s", got.Status.EvaluationError)
		}
		k.access.put(key, got.Status.Allowed, now.Add(k.opts.AccessTTL), now)
		return got.Status.Allowed, nil
	})
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

// sourceLimits is a token bucket per source address, for the reviews of
// unknown tokens. It holds at most max addresses: when full, addresses
// whose bucket has refilled (idle for a while) are forgotten first, and a
// new address finds no room only while all of them are busy.
type sourceLimits struct {
	every rate.Limit
	burst int
	max   int

	mu      sync.Mutex
	buckets map[string]*rate.Limiter
}

func newSourceLimits(every rate.Limit, burst, max int) *sourceLimits {
	return &sourceLimits{every: every, burst: burst, max: max, buckets: map[string]*rate.Limiter{}}
}

// allow takes one review from source's bucket, if it has one.
func (s *sourceLimits) allow(source string, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.buckets[source]
	if !ok {
		if len(s.buckets) >= s.max {
			for addr, other := range s.buckets {
				if other.TokensAt(now) >= float64(s.burst) {
					delete(s.buckets, addr)
				}
			}
			if len(s.buckets) >= s.max {
				return false
			}
		}
		b = rate.NewLimiter(s.every, s.burst)
		s.buckets[source] = b
	}
	return b.AllowN(now, 1)
}
