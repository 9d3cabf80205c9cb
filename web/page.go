// The dashboard page: its handler, the view of its shell (with the snapshot for static/app.js),
// and the plain view for a browser without JavaScript.

package web

// The dashboard page: its handler, the view of its shell, and the words of
// the plain view for a browser without JavaScript (the formatting rules it
// shares with static/format.mjs).

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/big"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/meshlock/meshlock/internal/graph"
)

// PageOptions configures the dashboard page.
type PageOptions struct {
	// Graph is the current snapshot, for the first render and the list of
	// namespaces. Required.
	Graph GraphSource
	// AllowEnforce shows the enforce buttons, the enforce dialog and the
	// Undo buttons of the activity list (and tells the script, through
	// data-allow-enforce, to draw the namespace and service buttons).
	AllowEnforce bool
	// View, when set, is what the request may see of the graph, filtered to
	// selected, and the namespaces it may choose from; an error answers 503
	// without data. Default: graph.Filter of Graph's snapshot and every
	// namespace in it.
	View func(r *http.Request, selected []string) (shown graph.Snapshot, namespaces []string, err error)
}

// NewPageHandler serves the dashboard at GET / (the router mounts it under
// the base path): the shell, the current snapshot as JSON for static/app.js
// (which draws everything from it, then follows the stream) and a plain
// table of the edges and findings for a browser without JavaScript.
//
// Query: ?namespace=a,b preselects namespaces (an invalid name answers 400
// JSON, as /api/graph does); ?embed=1 drops the page chrome for iframes.
func NewPageHandler(opts PageOptions) (http.Handler, error) {
	if opts.Graph == nil {
		return nil, errors.New("web: PageOptions.Graph is required")
	}
	return &pageHandler{opts: opts, now: time.Now}, nil
}

type pageHandler struct {
	opts PageOptions
	now  func() time.Time
}

func (h *pageHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, "the dashboard page only answers GET")
		return
	}
	namespaces, err := namespacesParam(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	view := h.opts.View
	if view == nil {
		view = func(_ *http.Request, selected []string) (graph.Snapshot, []string, error) {
			full := h.opts.Graph.Snapshot()
			return graph.Filter(full, selected), namespaceChoices(snapshotNamespaces(graph.Snapshot{Nodes: full.Nodes}), func(string) bool { return true }), nil
		}
	}
	clusters, err := clustersParam(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	shown, choices, err := view(r, namespaces)
	shown = restrictClusters(shown, clusters)
	if err != nil {
		writeHTMLMessage(w, r, http.StatusServiceUnavailable, "meshlock cannot show the mesh right now",
			"It could not check your rights with Kubernetes. Reload the page in a moment.")
		return
	}
	v := newPageView(shown, choices, namespaces, embedParam(r), h.opts.AllowEnforce, h.now())
	var buf bytes.Buffer
	if err := page(v).Render(r.Context(), &buf); err != nil {
		writeError(w, http.StatusInternalServerError, "the dashboard page could not be rendered")
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "text/html; charset=utf-8")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(buf.Bytes())
	}
}

// embedParam is true for ?embed=1 (also true, yes).
func embedParam(r *http.Request) bool {
	switch strings.ToLower(r.URL.Query().Get("embed")) {
	case "1", "true", "yes":
		return true
	}
	return false
}

// pageView is everything the page's shell shows: the page chrome, the
// namespace form, the snapshot for the script and the plain view for a
// browser without JavaScript. Everything else is drawn by static/app.js.
type pageView struct {
	Embed        bool
	AllowEnforce bool

	// Selected is the namespace filter (?namespace=), empty for all.
	Selected []string
	// Namespaces are those present in the unfiltered snapshot, plus any
	// selected one that is not, each marked when selected.
	Namespaces []namespaceOption

	// Plain is the <noscript> view: the edges and findings in words.
	Plain plainPage

	// Snapshot is the filtered snapshot, handed to the script as JSON
	// (#initial-snapshot) so it can draw before the stream's first message;
	// only when InlineSnapshot (a small mesh).
	Snapshot       graph.Snapshot
	InlineSnapshot bool
}

// A snapshot of more than inlineNodes nodes or inlineEdges edges, which the
// page opens collapsed by namespace (static/overview.mjs, COLLAPSE_NODES and
// COLLAPSE_EDGES), is not put in the page: the stream's first message, a
// few hundred milliseconds later, is the same snapshot, and the copy cost
// the page of 5,000 edges 1.6 MB and about 200 ms of parsing and drawing
// twice before it was ready (the script asks api/graph if the stream
// cannot connect).
const (
	inlineNodes = 300
	inlineEdges = 1000
)

func inlineSnapshot(s graph.Snapshot) bool {
	return len(s.Nodes) <= inlineNodes && len(s.Edges) <= inlineEdges
}

type namespaceOption struct {
	Name     string
	Selected bool
}

// plainPage is the page without JavaScript: what the snapshot says, in the
// words the script uses (the formatting rules shared with static/format.mjs,
// checked against testdata/formatting.json by both languages' tests).
type plainPage struct {
	GeneratedAt string // RFC 3339, "" before the first refresh
	TimeText    string // "21:00:00 UTC", or "no data yet"
	Freshness   string // "updated 3s ago"
	Stale       bool
	StaleReason string
	Posture     string // "87% of requests · 100% of TCP bytes", or "—"
	// Edges are the first maxPlainEdges edges, the least secure first;
	// TotalEdges counts them all and MoreEdges those left out.
	Edges      []plainEdge
	TotalEdges int
	MoreEdges  int
	Findings   []plainFinding
	Empty      string // why there is no node, "" when there are some
}

type plainEdge struct {
	ID, Source, Target, Protocol string
	Rate                         string // "2.4 req/s", "2.5 kB/s"
	MTLS                         string // "40%", or "—" when the status is unknown
	Status                       string
}

type plainFinding struct {
	ID, Severity, Message string
}

// newPageView words s, the snapshot already filtered to selected (and to
// what the viewer may see); choices are the namespaces the selector offers.
func newPageView(s graph.Snapshot, choices, selected []string, embed, allowEnforce bool, now time.Time) pageView {
	return pageView{
		Embed:          embed,
		AllowEnforce:   allowEnforce,
		Selected:       selected,
		Namespaces:     namespaceOptions(choices, selected),
		Plain:          newPlainPage(s, selected, now),
		Snapshot:       s,
		InlineSnapshot: inlineSnapshot(s),
	}
}

func newPlainPage(s graph.Snapshot, selected []string, now time.Time) plainPage {
	p := plainPage{
		TimeText:    "no data yet",
		Freshness:   "waiting for the first refresh",
		Stale:       s.Stale,
		StaleReason: cmp.Or(s.Error, "the last refresh failed"),
		Posture:     postureText(s.Posture),
	}
	if !s.GeneratedAt.IsZero() {
		p.GeneratedAt = s.GeneratedAt.UTC().Format(time.RFC3339)
		p.TimeText = s.GeneratedAt.UTC().Format("15:04:05") + " UTC"
		p.Freshness = formatFreshness(now.Sub(s.GeneratedAt))
	}
	names := make(map[string]string, len(s.Nodes))
	for _, n := range s.Nodes {
		names[n.ID] = endpointText(n)
	}
	name := func(id string) string { return cmp.Or(names[id], id) }
	p.TotalEdges = len(s.Edges)
	for _, e := range plainEdges(s.Edges) {
		rate := formatRate(e.Rate, e.Protocol)
		if e.Idle {
			// Known from the look-back only: when, not how much now.
			rate = "idle, last seen " + e.History.LastSeen.UTC().Format("2006-01-02 15:04") + " UTC"
		}
		p.Edges = append(p.Edges, plainEdge{
			ID: e.ID, Source: name(e.Source), Target: name(e.Target), Protocol: e.Protocol,
			Rate: rate, MTLS: mtlsText(e.Status, e.MTLSRatio), Status: e.Status,
		})
	}
	p.MoreEdges = p.TotalEdges - len(p.Edges)
	for _, f := range s.Findings {
		p.Findings = append(p.Findings, plainFinding{ID: f.ID, Severity: f.Severity, Message: f.Message})
	}
	if len(s.Nodes) == 0 {
		p.Empty = emptyMessage(selected, s)
	}
	return p
}

// captionMore says, in the table's caption, which edges a capped table
// shows: ", the 200 least secure first"; "" when it shows them all.
func (p plainPage) captionMore() string {
	if p.MoreEdges == 0 {
		return ""
	}
	return ", the " + itoa(len(p.Edges)) + " least secure first"
}

// maxPlainEdges caps the page's table without JavaScript: the page of a
// mesh of 5,000 edges carried 5 MB of rows nobody reads on one page; the
// rest is a GET of api/graph away.
const maxPlainEdges = 200

// plainStatusRank orders the plain table: what is not proven mTLS first
// (as static/model.mjs sorts the status column).
var plainStatusRank = map[string]int{graph.StatusOpen: 0, graph.StatusMixed: 1, graph.StatusUnknown: 2, graph.StatusLocked: 3}

// plainEdges are the edges the plain table shows: open, then mixed, then
// unknown, then locked, live before idle, by id; at most maxPlainEdges.
func plainEdges(edges []graph.Edge) []graph.Edge {
	out := slices.Clone(edges)
	rank := func(e graph.Edge) int {
		r, ok := plainStatusRank[e.Status]
		if !ok {
			r = len(plainStatusRank)
		}
		return r
	}
	slices.SortStableFunc(out, func(a, b graph.Edge) int {
		if c := cmp.Compare(rank(a), rank(b)); c != 0 {
			return c
		}
		if a.Idle != b.Idle {
			if a.Idle {
				return 1
			}
			return -1
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out[:min(len(out), maxPlainEdges)]
}

// The formatting rules below exist in static/format.mjs too, for the
// script; testdata/formatting.json holds the cases both tests check.

// shareSeparator stands between the HTTP and the TCP share.
const shareSeparator = " · "

// postureText words the server's posture as the header does: the mTLS
// share of requests, then of TCP bytes (never added together), each only
// when that protocol has traffic of known security; "—" when neither has.
func postureText(p graph.Posture) string {
	var parts []string
	for _, s := range []struct {
		label string
		share graph.Share
	}{{"of requests", p.HTTP}, {"of TCP bytes", p.TCP}} {
		if s.share.Ratio != nil && finite(*s.share.Ratio) {
			parts = append(parts, formatPercent(*s.share.Ratio)+" "+s.label)
		}
	}
	if len(parts) == 0 {
		return "—"
	}
	return strings.Join(parts, shareSeparator)
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// formatPercent shows a share 0..1 as a whole percentage that never claims
// 100% or 0% when it is not exactly that: 0.996 is "99%", 0.003 is "1%".
func formatPercent(share float64) string {
	if !finite(share) {
		return "—"
	}
	share = min(max(share, 0), 1)
	pct := math.Round(share * 100)
	switch {
	case pct >= 100 && share < 1:
		pct = 99
	case pct <= 0 && share > 0:
		pct = 1
	}
	return strconv.Itoa(int(pct)) + "%"
}

// mtlsText is an edge's mTLS share, "—" when its security is unknown.
func mtlsText(status string, ratio float64) string {
	if status == graph.StatusUnknown {
		return "—"
	}
	return formatPercent(ratio)
}

// formatRate writes an edge's rate with its unit: requests per second for
// HTTP and gRPC, bytes per second (SI multiples) for TCP.
func formatRate(rate float64, protocol string) string {
	if !finite(rate) {
		return "—"
	}
	if protocol == graph.ProtocolTCP {
		units := []string{"B/s", "kB/s", "MB/s", "GB/s"}
		i := 0
		for rate >= 1000 && i < len(units)-1 {
			rate /= 1000
			i++
		}
		return formatNumber(rate) + " " + units[i]
	}
	return formatNumber(rate) + " req/s"
}

// formatNumber keeps three significant digits or so: 0.25, 2.4, 12.3, 456, 1234.
func formatNumber(v float64) string {
	switch a := math.Abs(v); {
	case a == 0:
		return "0"
	case a < 0.01:
		return "<0.01"
	case a < 1:
		return toFixed(v, 2)
	case a < 100:
		return toFixed(v, 1)
	default:
		return toFixed(v, 0)
	}
}

// toFixed is JavaScript's Number.prototype.toFixed: the exact binary value
// rounded to digits decimals, halves away from zero (strconv would round
// an exact half to even: 0.125 → "0.12" where the script says "0.13").
func toFixed(v float64, digits int) string {
	return new(big.Rat).SetFloat64(v).FloatString(digits)
}

// formatFreshness says how old the data is: "updated 3s ago".
func formatFreshness(age time.Duration) string {
	if age < 0 {
		age = 0
	}
	s := int(age.Round(time.Second) / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("updated %ds ago", s)
	case s < 3600:
		return fmt.Sprintf("updated %dm %ds ago", s/60, s%60)
	default:
		return fmt.Sprintf("updated %dh %dm ago", s/3600, (s%3600)/60)
	}
}

// displayName is a node's name as the page shows it: a ServiceAccount node
// is "sa:<name>" (its name already is, but the prefix is what tells it
// from a workload); the node for what the viewer may not see says so.
func displayName(n graph.Node) string {
	if n.Kind == Hidden {
		return "hidden (a namespace you cannot see)"
	}
	if n.Kind == graph.KindServiceAccount && !strings.HasPrefix(n.Name, "sa:") {
		return "sa:" + n.Name
	}
	return n.Name
}

// endpointText is a node as an edge's end: "default/reviews", "unknown".
func endpointText(n graph.Node) string {
	if n.Namespace == "" {
		return displayName(n)
	}
	return n.Namespace + "/" + displayName(n)
}

// emptyMessage says why the graph is empty.
func emptyMessage(selected []string, s graph.Snapshot) string {
	switch {
	case len(selected) == 1:
		return "No services in namespace " + selected[0]
	case len(selected) > 1:
		return "No services in namespaces " + strings.Join(selected, ", ")
	case s.GeneratedAt.IsZero():
		return "No services yet: waiting for the first refresh"
	}
	return "No services found in the mesh"
}

// namespaceOptions lists the namespaces the viewer may choose (those of the
// unfiltered snapshot they may see) and the selected ones (even if absent),
// sorted, selected ones marked.
func namespaceOptions(choices []string, selected []string) []namespaceOption {
	marked := make(map[string]bool, len(selected))
	for _, ns := range selected {
		marked[ns] = true
	}
	seen := map[string]bool{}
	var names []string
	add := func(ns string) {
		if ns != "" && !seen[ns] {
			seen[ns] = true
			names = append(names, ns)
		}
	}
	for _, ns := range choices {
		add(ns)
	}
	for _, ns := range selected {
		add(ns)
	}
	slices.Sort(names)
	out := make([]namespaceOption, 0, len(names))
	for _, ns := range names {
		out = append(out, namespaceOption{Name: ns, Selected: marked[ns]})
	}
	return out
}

// namespaceSummary is the selector's caption: "all", "default", "default +2".
func (v pageView) namespaceSummary() string {
	switch len(v.Selected) {
	case 0:
		return "all"
	case 1:
		return v.Selected[0]
	}
	return fmt.Sprintf("%s +%d", v.Selected[0], len(v.Selected)-1)
}

// selectedParam is the filter as the URL writes it: "a,b".
func (v pageView) selectedParam() string { return strings.Join(v.Selected, ",") }

func boolAttr(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

func itoa(i int) string { return strconv.Itoa(i) }

// selectSize is the namespace list's height in rows: 2 to 3.
func selectSize(n int) int { return min(max(n, 2), 3) }

// allNamespacesURL clears the filter, keeping embed mode.
func allNamespacesURL(embed bool) string {
	if embed {
		return "?embed=1"
	}
	return "?"
}

// enforceMode is a choice of the enforce dialog (the contract's modes).
type enforceMode struct {
	Value, Label, Hint string
}

// enforceModes in the dialog's order; the first is preselected.
var enforceModes = []enforceMode{
	{"destinationrule", "DestinationRule ISTIO_MUTUAL (client side)",
		"Callers with a sidecar send mTLS; the servers still accept plaintext."},
	{"peerauthentication", "PeerAuthentication STRICT (server side)",
		"Servers with a sidecar accept only mTLS and refuse plaintext callers."},
	{"authorization", "Allow only these callers",
		"An ALLOW AuthorizationPolicy of the callers seen (by identity, or whole namespaces); every other caller is denied. For a service or a namespace."},
}
