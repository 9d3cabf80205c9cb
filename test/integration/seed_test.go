// The seed exercise on real servers: bookinfo without TLS is plaintext, the mTLS DestinationRules
// make it mutual TLS, and STRICT cuts off the caller without a sidecar.

package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	promapi "github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	securityapi "istio.io/api/security/v1beta1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshlock/meshlock/internal/meshsim"

	"github.com/meshlock/meshlock/internal/testutil"
)

// The seed exercise, on real servers: bookinfo without TLS is plaintext,
// destination-rule-all-mtls.yaml makes it mutual TLS, and a STRICT
// PeerAuthentication cuts off the caller without a sidecar.
func TestSeedExerciseOnRealServers(t *testing.T) {
	ctx := context.Background()
	b := StartBookinfo(t, nil)
	istio, mesh := b.Istio, b.Mesh
	query := promQuerier(t, b.Prometheus.URL)

	const productpageToReviews = `reporter="destination",source_workload="productpage-v1",destination_service_name="reviews"`
	rate := func(selector string) func() float64 {
		return func() float64 {
			return query(fmt.Sprintf(`sum(rate(istio_requests_total{%s}[4s]))`, selector))
		}
	}
	plaintext := rate(productpageToReviews + `,connection_security_policy="none"`)
	mutual := rate(productpageToReviews + `,connection_security_policy="mutual_tls"`)

	testutil.Eventually(t, "productpage → reviews reported as plaintext", func() (bool, string) {
		p, m := plaintext(), mutual()
		return p > 0 && m == 0, fmt.Sprintf("none %.2f/s, mutual_tls %.2f/s", p, m)
	})

	ApplyDestinationRules(t, istio, "default", SharedFixture(t, "bookinfo", "destination-rule-all-mtls.yaml"))
	testutil.Eventually(t, "productpage → reviews growing only as mutual_tls", func() (bool, string) {
		p, m := plaintext(), mutual()
		return p == 0 && m > 0, fmt.Sprintf("none %.2f/s, mutual_tls %.2f/s", p, m)
	})

	legacyKey := meshsim.Caller{From: "legacy/legacy-client", To: "default/ratings", Port: 9080}.Key()
	legacyIntoRatings := rate(`reporter="destination",source_workload="unknown",destination_service_name="ratings"`)
	if legacyIntoRatings() == 0 {
		t.Fatal("the legacy caller's plaintext requests into ratings are not reported before STRICT")
	}
	strict := &securityv1.PeerAuthentication{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: "default"}}
	strict.Spec.Mtls = &securityapi.PeerAuthentication_MutualTLS{Mode: securityapi.PeerAuthentication_MutualTLS_STRICT}
	if _, err := istio.SecurityV1().PeerAuthentications("default").Create(ctx, strict, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	failedBefore := mesh.Outcomes()[legacyKey].Failed
	testutil.Eventually(t, "STRICT cuts the legacy caller off", func() (bool, string) {
		outcome := mesh.Outcomes()[legacyKey]
		reported := legacyIntoRatings()
		return outcome.Failed > failedBefore && reported == 0 && mutual() > 0,
			fmt.Sprintf("legacy outcomes %+v, legacy requests reported by ratings %.2f/s", outcome, reported)
	})
	// Callers with sidecars still succeed: only the plaintext caller is cut.
	reviews := mesh.Outcomes()[meshsim.Caller{From: "default/reviews-v2", To: "default/ratings", Port: 9080}.Key()]
	if reviews.Succeeded == 0 {
		t.Errorf("reviews-v2 → ratings: %+v", reviews)
	}
}

// promQuerier returns a function that runs an instant query and answers
// the single value of its result, 0 when the result is empty.
func promQuerier(t *testing.T, url string) func(string) float64 {
	client, err := promapi.NewClient(promapi.Config{Address: url})
	if err != nil {
		t.Fatal(err)
	}
	api := promv1.NewAPI(client)
	return func(q string) float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		value, _, _, err := api.Query(ctx, q, time.Now())
		if err != nil {
			t.Fatalf("query %s: %v", q, err)
		}
		vector, ok := value.(model.Vector)
		if !ok || len(vector) == 0 {
			return 0
		}
		return float64(vector[0].Value)
	}
}
