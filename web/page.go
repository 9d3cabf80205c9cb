package web

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"math"
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
	// Undo buttons of the activity list (and tells app.js, through
	// data-allow-enforce, to draw the namespace and service buttons).
	AllowEnforce bool
	// View, when set, is what the request may see of the graph, filtered to
	// selected, and the namespaces it may choose from; an error answers 503
	// without data. Default: graph.Filter of Graph's snapshot and every
	// namespace in it.
	View func(r *http.Request, selected []string) (shown graph.Snapshot, namespaces []string, err error)
}

// NewPageHandler serves the dashboard at GET / (the router mounts it under
// the base path). The first render is complete HTML made from the current
// snapshot (posture, counts, findings, the edge table), so the page means
// something before JavaScript runs; static/app.js then follows the stream.
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
			return graph.Filter(full, selected), snapshotNamespaces(graph.Snapshot{Nodes: full.Nodes}, nil), nil
		}
	}
	shown, choices, err := view(r, namespaces)
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

// pageView is everything the page template shows.
type pageView struct {
	Embed        bool
	AllowEnforce bool

	// Selected is the namespace filter (?namespace=), empty for all.
	Selected []string
	// Namespaces are those present in the unfiltered snapshot, plus any
	// selected one that is not, each marked when selected.
	Namespaces []namespaceOption

	Posture postureView

	HasData     bool // GeneratedAt is set
	GeneratedAt string
	TimeText    string // "21:00:00 UTC"
	Freshness   string // "updated 3s ago"
	Window      string
	Stale       bool
	StaleReason string

	Findings []findingView
	Rows     []edgeRow
	// NodeRows are the nodes with configuration (all but the unknown
	// caller), the words for what the graph's shapes and side panel show.
	NodeRows []nodeRow

	// Empty is true when the (filtered) graph has no node; EmptyMessage says why.
	Empty        bool
	EmptyMessage string

	// Snapshot is the filtered snapshot, handed to the script as JSON so it
	// can draw before the stream's first message.
	Snapshot graph.Snapshot
}

type namespaceOption struct {
	Name     string
	Selected bool
}

// postureView is the header's summary, made from the snapshot's posture
// (graph.ComputePosture, on the server) and worded as static/model.mjs
// words it, so that the first render and the script say the same.
type postureView struct {
	// Parts are the protocols with traffic of known security, HTTP
	// (requests) before TCP (bytes): the two are never added together.
	Parts []sharePart
	// Text is the parts as shown: "87% of requests · 100% of TCP bytes",
	// or "—" when neither protocol has such traffic.
	Text string
	// Share is the one number scripts and tests read (data-share): the HTTP
	// ratio when there is HTTP traffic, else TCP's, "" when neither.
	Share string

	Locked, Mixed, Open, Unknown int
}

// sharePart is one protocol's mTLS share in the header.
type sharePart struct {
	Key     string // "http" or "tcp": data-testid posture-<key>-share
	Percent string // "87%"
	Label   string // "of requests", "of TCP bytes"
	Share   string // the ratio, for data-share
	Rate    string // the traffic it is a share of: "6.0 req/s", "2.5 kB/s"
}

func newPostureView(p graph.Posture) postureView {
	v := postureView{
		Locked:  p.Counts[graph.StatusLocked],
		Mixed:   p.Counts[graph.StatusMixed],
		Open:    p.Counts[graph.StatusOpen],
		Unknown: p.Counts[graph.StatusUnknown],
		Text:    "—",
	}
	for _, s := range []struct {
		key, label, protocol string
		share                graph.Share
	}{
		{"http", "of requests", graph.ProtocolHTTP, p.HTTP},
		{"tcp", "of TCP bytes", graph.ProtocolTCP, p.TCP},
	} {
		// No ratio means no traffic of known security: the protocol is left out.
		if s.share.Ratio == nil || !finite(*s.share.Ratio) {
			continue
		}
		v.Parts = append(v.Parts, sharePart{
			Key:     s.key,
			Percent: formatPercent(*s.share.Ratio),
			Label:   s.label,
			Share:   strconv.FormatFloat(*s.share.Ratio, 'f', 6, 64),
			Rate:    formatRate(s.share.Rate, s.protocol),
		})
	}
	if len(v.Parts) > 0 {
		texts := make([]string, len(v.Parts))
		for i, part := range v.Parts {
			texts[i] = part.Percent + " " + part.Label
		}
		v.Text = strings.Join(texts, shareSeparator)
		v.Share = v.Parts[0].Share
	}
	return v
}

// shareSeparator stands between the HTTP and the TCP share.
const shareSeparator = " · "

// title says what a share is of, for the tooltip.
func (p sharePart) title() string {
	return p.Percent + " of " + p.Rate + " is mutual TLS, over the edges whose security is known"
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
		return strconv.FormatFloat(v, 'f', 2, 64)
	case a < 100:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
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

type findingView struct {
	ID       string
	Severity string // critical, warning, info
	Icon     string // a glyph next to the severity word
	Message  string
	// Target is what selecting the finding shows: its first edge, else its
	// first node; TargetKind is "edge", "node" or "" when it names neither.
	Target     string
	TargetKind string
}

// nodeRow is one row of the node table; static/app.js words the side panel
// and its own rows alike (model.mjs: portText, callerTLSText, ...).
type nodeRow struct {
	ID       string
	Endpoint endpoint // Name as displayed: "sa:<name>" for a ServiceAccount
	Kind     string
	Sidecar  string // "yes" or "no"
	// PeerAuth is the mode, or gatewayPeerAuthText for a gateway.
	PeerAuth string
	DRTLS    string   // the mode, "none", or "varies by caller"
	Callers  []string // for VARIES, what each caller gets
	Ports    []string // "9080 → 8080 http STRICT"
}

// gatewayPeerAuthText replaces a gateway's PeerAuthentication mode: Istio
// applies PeerAuthentication to sidecars' inbound listeners, not to a
// gateway's.
const gatewayPeerAuthText = "does not apply to a gateway's listeners"

func newNodeRow(n graph.Node) nodeRow {
	r := nodeRow{
		ID:       n.ID,
		Endpoint: endpoint{ID: n.ID, Namespace: n.Namespace, Name: displayName(n)},
		Kind:     n.Kind,
		Sidecar:  "no",
		PeerAuth: cmp.Or(n.PeerAuthentication, "UNSET"),
		DRTLS:    cmp.Or(n.DestinationRuleTLS, "none"),
	}
	if n.InMesh {
		r.Sidecar = "yes"
	}
	gateway := n.Kind == graph.KindGateway
	if gateway {
		r.PeerAuth = gatewayPeerAuthText
	}
	if n.DestinationRuleTLS == graph.TLSVaries {
		r.DRTLS = "varies by caller"
		for _, c := range n.CallerTLS {
			r.Callers = append(r.Callers, callerTLSText(c))
		}
	}
	for _, p := range n.Ports {
		r.Ports = append(r.Ports, portText(p, gateway))
	}
	return r
}

// displayName is a node's name as the page shows it: a ServiceAccount node
// is "sa:<name>" (its name already is, but the prefix is what tells it
// from a workload).
func displayName(n graph.Node) string {
	if n.Kind == Hidden {
		return "hidden (a namespace you cannot see)"
	}
	if n.Kind == graph.KindServiceAccount && !strings.HasPrefix(n.Name, "sa:") {
		return "sa:" + n.Name
	}
	return n.Name
}

// portText: "9080 → 8080 http STRICT"; "?" for a target port that could
// not be resolved; no mode on a gateway, where PeerAuthentication does not
// apply.
func portText(p graph.ServicePort, gateway bool) string {
	target := "?"
	if p.TargetPort != 0 {
		target = strconv.Itoa(int(p.TargetPort))
	}
	s := strconv.Itoa(int(p.Port)) + " → " + target + " " + cmp.Or(p.Protocol, "auto")
	if !gateway {
		s += " " + cmp.Or(p.PeerAuthentication, "UNSET")
	}
	return s
}

// callerTLSText: "default/productpage: ISTIO_MUTUAL (default/reviews)".
func callerTLSText(c graph.CallerTLS) string {
	s := c.Caller + ": " + cmp.Or(c.TLS, "no TLS setting")
	if c.Rule != "" {
		s += " (" + c.Rule + ")"
	}
	return s
}

type edgeRow struct {
	ID         string
	Source     endpoint
	Target     endpoint
	Protocol   string
	Rate       float64
	RateText   string
	MTLSText   string // "40%", or "—" when the status is unknown
	Status     string
	StatusText string // "locked", "mixed", ...
	Label      string // "reviews → ratings, http, mixed 40% mTLS"
}

// endpoint splits a node id for display: namespace (may be empty) and name.
type endpoint struct {
	ID        string
	Namespace string
	Name      string
}

// newPageView words s, the snapshot already filtered to selected (and to
// what the viewer may see); choices are the namespaces the selector offers.
func newPageView(s graph.Snapshot, choices, selected []string, embed, allowEnforce bool, now time.Time) pageView {
	v := pageView{
		Embed:        embed,
		AllowEnforce: allowEnforce,
		Selected:     selected,
		Namespaces:   namespaceOptions(choices, selected),
		Posture:      newPostureView(s.Posture),
		Window:       s.Window,
		Stale:        s.Stale,
		StaleReason:  s.Error,
		Snapshot:     s,
	}
	if v.Stale && v.StaleReason == "" {
		v.StaleReason = "the last refresh failed"
	}
	if !s.GeneratedAt.IsZero() {
		v.HasData = true
		v.GeneratedAt = s.GeneratedAt.UTC().Format(time.RFC3339)
		v.TimeText = s.GeneratedAt.UTC().Format("15:04:05") + " UTC"
		v.Freshness = formatFreshness(now.Sub(s.GeneratedAt))
	} else {
		v.TimeText = "no data yet"
		v.Freshness = "waiting for the first refresh"
	}

	names := make(map[string]endpoint, len(s.Nodes))
	nodeIDs := make(map[string]bool, len(s.Nodes))
	for _, n := range s.Nodes {
		names[n.ID] = endpoint{ID: n.ID, Namespace: n.Namespace, Name: displayName(n)}
		nodeIDs[n.ID] = true
	}
	edgeIDs := make(map[string]bool, len(s.Edges))
	for _, e := range s.Edges {
		edgeIDs[e.ID] = true
		row := edgeRow{
			ID:         e.ID,
			Source:     endpointOf(names, e.Source),
			Target:     endpointOf(names, e.Target),
			Protocol:   e.Protocol,
			Rate:       e.Rate,
			RateText:   formatRate(e.Rate, e.Protocol),
			MTLSText:   "—",
			Status:     e.Status,
			StatusText: e.Status,
		}
		if e.Status != graph.StatusUnknown {
			row.MTLSText = formatPercent(e.MTLSRatio)
		}
		row.Label = fmt.Sprintf("%s → %s, %s, %s", row.Source.Name, row.Target.Name, e.Protocol, statusPhrase(e.Status, row.MTLSText))
		v.Rows = append(v.Rows, row)
	}
	for _, n := range s.Nodes {
		if n.Kind != graph.KindUnknown && n.Kind != Hidden {
			v.NodeRows = append(v.NodeRows, newNodeRow(n))
		}
	}
	for _, f := range s.Findings {
		fv := findingView{ID: f.ID, Severity: f.Severity, Icon: severityIcon(f.Severity), Message: f.Message}
		for _, id := range f.Edges {
			if edgeIDs[id] {
				fv.Target, fv.TargetKind = id, "edge"
				break
			}
		}
		if fv.Target == "" {
			for _, id := range f.Nodes {
				if nodeIDs[id] {
					fv.Target, fv.TargetKind = id, "node"
					break
				}
			}
		}
		v.Findings = append(v.Findings, fv)
	}
	if len(s.Nodes) == 0 {
		v.Empty = true
		v.EmptyMessage = emptyMessage(selected, s)
	}
	return v
}

func endpointOf(names map[string]endpoint, id string) endpoint {
	if ep, ok := names[id]; ok {
		return ep
	}
	ns, name, ok := strings.Cut(id, "/")
	if !ok {
		return endpoint{ID: id, Name: id}
	}
	return endpoint{ID: id, Namespace: ns, Name: name}
}

// statusPhrase says an edge's security in words: "locked (100% mTLS)".
func statusPhrase(status, mtls string) string {
	switch status {
	case graph.StatusLocked:
		return "locked, all mTLS"
	case graph.StatusMixed:
		return "mixed, " + mtls + " mTLS"
	case graph.StatusOpen:
		return "open, plaintext"
	}
	return "unknown security (the server side did not report)"
}

func severityIcon(severity string) string {
	switch severity {
	case graph.SeverityCritical:
		return "✖"
	case graph.SeverityWarning:
		return "⚠"
	}
	return "ℹ"
}

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

// nsPrefix is "default/" before a name, or nothing.
func (e endpoint) nsPrefix() string {
	if e.Namespace == "" {
		return ""
	}
	return e.Namespace + "/"
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
}
