// Reading a period from Prometheus in bounded steps and judging it with the graph's own rules, so
// that the report and the dashboard never disagree about an edge.

package report

import (
	"context"
	"errors"
	"maps"
	"net/url"
	"slices"
	"time"

	"github.com/prometheus/common/model"

	"github.com/meshlock/meshlock/internal/graph"
)

// Querier reads the history of a range (end-rng, end] with first and last
// times per series, and which kind of series (graph.Series*) it read (a
// *prom.Client), and Prometheus' retention.
type Querier interface {
	Period(ctx context.Context, end time.Time, rng, step time.Duration) ([]graph.HistorySample, string, error)
	Retention(ctx context.Context) (time.Duration, error)
}

// wholeReader is a Querier that may read a period in one query rather
// than a day at a time (a *prom.Client, where the period is read from
// recorded series: a query's cost then follows its series and terms, not
// its days).
type wholeReader interface {
	ReadsWhole(ctx context.Context, from, to time.Time) bool
}

// QueryChunks are the queries that read the period: one a day, or one for
// the whole period where q reads it whole.
func QueryChunks(ctx context.Context, q Querier, p Period) []Chunk {
	longest := maxChunk
	if w, ok := q.(wholeReader); ok && w.ReadsWhole(ctx, p.From, p.To) {
		longest = p.Length()
	}
	return chunksOf(p, Resolution(p), longest)
}

// Generator makes the graph of a period.
type Generator struct {
	Querier Querier
	// Cluster is Kubernetes now: the policy a report states is today's.
	Cluster func() graph.Cluster
	// URL names the Prometheus in the answer.
	URL string
	// Now is the clock; nil: time.Now.
	Now func() time.Time
	// Certs, when set, reads the certificate expiries Prometheus has now
	// (a *prom.Client's FetchCerts): the report's trust inventory is today's.
	Certs func(ctx context.Context) (graph.CertFigures, error)
	// Thresholds of the certificate findings; zero ones take the defaults.
	Thresholds graph.CertThresholds
}

func (g *Generator) now() time.Time {
	if g.Now != nil {
		return g.Now()
	}
	return time.Now()
}

// Parse reads from and to and refuses a period Prometheus does not hold;
// errors for which IsBadPeriod holds are the caller's. Without from, the
// period is DefaultLength, or all Prometheus keeps when that is less.
func (g *Generator) Parse(ctx context.Context, from, to string) (Period, Source, error) {
	now := g.now().UTC().Truncate(time.Second)
	p, err := ParsePeriod(from, to, now)
	if err != nil {
		return Period{}, Source{}, err
	}
	retention, err := g.Querier.Retention(ctx)
	if err != nil {
		// Unknown (an API without flags, Thanos'): nothing refused; the
		// answer's dataFrom says where the data starts.
		retention = 0
	}
	src := Source{Kind: "prometheus", URL: redacted(g.URL)}
	if retention > 0 {
		src.Retention = formatDuration(retention)
		oldest := now.Add(-retention)
		if from == "" && p.From.Before(oldest) && oldest.Before(p.To) {
			p.From = oldest
		}
		if err := CheckRetention(p, oldest, retention); err != nil {
			return Period{}, Source{}, err
		}
	}
	src.Resolution = formatDuration(Resolution(p))
	return p, src, nil
}

// Snapshot reads the period, a day at a time, newest first, and builds
// its graph: every edge carries the period in History, judged as the
// look-back is (destination side proves mTLS, a client's excess is not
// proven). The nodes and their policy are the cluster's now.
func (g *Generator) Snapshot(ctx context.Context, p Period, src *Source) (graph.Snapshot, error) {
	if g.Querier == nil || g.Cluster == nil {
		return graph.Snapshot{}, errors.New("report: no Prometheus or cluster")
	}
	step := Resolution(p)
	var m graph.HistoryMerge
	chunks := QueryChunks(ctx, g.Querier, p)
	kinds := map[string]bool{}
	for _, c := range chunks {
		samples, series, err := g.Querier.Period(ctx, c.End, c.Range, step)
		if err != nil {
			return graph.Snapshot{}, err
		}
		if series != "" {
			kinds[series] = true
		}
		for _, s := range samples {
			m.Add(s)
		}
	}
	src.Series = slices.Sorted(maps.Keys(kinds))
	merged := m.Sorted()
	src.Queries = len(chunks)
	for _, m := range merged {
		if !m.FirstSeen.IsZero() && (src.DataFrom == nil || m.FirstSeen.Before(*src.DataFrom)) {
			t := m.FirstSeen
			src.DataFrom = &t
		}
	}
	var certs *graph.CertFigures
	if g.Certs != nil {
		figures, err := g.Certs(ctx)
		if err != nil {
			return graph.Snapshot{}, err
		}
		certs = &figures
	}
	from, to := p.From, p.To
	snap := graph.Build(nil, g.Cluster(), graph.BuildOptions{
		GeneratedAt: p.To, Window: formatDuration(p.Length()), History: merged,
		Lookback: graph.Lookback{Window: formatDuration(p.Length()), State: graph.LookbackReady, From: &from, To: &to},
		Certs:    certs, Thresholds: g.Thresholds,
	})
	return snap, nil
}

// redacted is the URL without a password in it: the answer goes to
// every reader.
func redacted(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Redacted()
}

// formatDuration spells a duration as PromQL does: 7d, 1h30m.
func formatDuration(d time.Duration) string { return model.Duration(d).String() }
