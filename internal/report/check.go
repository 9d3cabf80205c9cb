// `meshlock check`: the edges and services of a report whose mTLS share is below the bar, as a
// table, JSON or YAML, for a pipeline to fail on.

package report

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/meshlock/meshlock/internal/graph"
)

// CheckResult is what `meshlock check` judged.
type CheckResult struct {
	MinMTLS float64 `json:"minMTLS"`
	// Pass: nothing is below the bar.
	Pass  bool    `json:"pass"`
	Below []Below `json:"below"`
	// MinCertValidity is --cert-min-validity, "" when certificates were
	// not checked; Certificates are those that expire sooner.
	MinCertValidity string      `json:"minCertValidity,omitempty"`
	Certificates    []CertBelow `json:"certificates,omitempty"`
}

// Kinds of certificates a check judges.
const (
	CertRoot     = "root"
	CertWorkload = "workload"
)

// CertBelow is a certificate that expires within the bar.
type CertBelow struct {
	Kind string `json:"kind"` // CertRoot or CertWorkload
	// Name is a root's subject and SHA-256 fingerprint, or a workload's id.
	Name       string    `json:"name"`
	Namespaces []string  `json:"namespaces"` // holding the root; the workload's
	NotAfter   time.Time `json:"notAfter"`
	// Left is the time it has left ("19d", "-2h" when expired).
	Left string `json:"left"`
}

// CheckCerts fails the check (made by Check) for every trusted root, and
// with workloads every proxy certificate known, that expires sooner than
// min after now; without any root known there is nothing proven: an error,
// so that the caller fails closed.
func CheckCerts(r *Report, min time.Duration, workloads bool, now time.Time) error {
	if len(r.Identity.Roots) == 0 {
		return fmt.Errorf("no root certificate found (no %s ConfigMap readable): no certificate to check, no PASS", graph.RootBundleName)
	}
	if r.Check == nil {
		r.Check = &CheckResult{Pass: true, Below: []Below{}}
	}
	c := r.Check
	c.MinCertValidity = formatDuration(min)
	c.Certificates = []CertBelow{}
	bar := now.Add(min)
	left := func(t time.Time) string {
		d := t.Sub(now).Truncate(time.Second)
		if d < 0 {
			return "-" + formatDuration(-d)
		}
		return formatDuration(d)
	}
	for _, root := range r.Identity.Roots {
		if root.NotAfter.Before(bar) {
			c.Certificates = append(c.Certificates, CertBelow{Kind: CertRoot, Name: root.Subject + " (sha256 " + root.Fingerprint + ")",
				Namespaces: root.Namespaces, NotAfter: root.NotAfter.UTC(), Left: left(root.NotAfter)})
		}
	}
	if workloads {
		for _, w := range r.Identity.Workloads {
			if w.CertExpiry != nil && w.CertExpiry.Before(bar) {
				c.Certificates = append(c.Certificates, CertBelow{Kind: CertWorkload, Name: w.ID, Namespaces: []string{w.Namespace},
					NotAfter: w.CertExpiry.UTC(), Left: left(*w.CertExpiry)})
			}
		}
	}
	c.Pass = c.Pass && len(c.Certificates) == 0
	return nil
}

// Kinds of what is below the bar.
const (
	BelowEdge    = "edge"
	BelowService = "service"
)

// Below is one edge or service whose share over the period is under the bar.
type Below struct {
	Kind      string  `json:"kind"`
	Namespace string  `json:"namespace"` // the target's
	Name      string  `json:"name"`      // the edge's "<source> -> <target>", or the service's id
	Protocol  string  `json:"protocol,omitempty"`
	Unit      string  `json:"unit"`
	Volume    float64 `json:"volume"`
	// MTLSShare is 0 for traffic nobody proved (client-only reports).
	MTLSShare     float64 `json:"mtlsShare"`
	LastPlaintext string  `json:"lastPlaintext,omitempty"`
}

// Check marks what is below min (0..1): every edge whose share of its
// unit is, and every service (a target) whose inbound traffic of a unit
// is. An edge with traffic but no volume worth counting is judged by its
// status: locked passes, anything else fails.
func Check(r *Report, min float64) {
	res := &CheckResult{MinMTLS: min, Below: []Below{}}
	type unitKey struct{ target, unit string }
	inbound := map[unitKey]*[2]float64{} // volume, mTLS
	targetNS := map[string]string{}
	for _, e := range r.Edges {
		if e.Unit == graph.VolumeConnections {
			// TCP that moved no bytes: judged by status alone.
			if e.Status != graph.StatusLocked {
				res.Below = append(res.Below, belowEdge(e, 0))
			}
			continue
		}
		shareOf := deref(e.MTLSShare)
		if e.MTLSShare == nil && e.Status == graph.StatusLocked {
			shareOf = 1
		}
		if shareOf < min {
			res.Below = append(res.Below, belowEdge(e, shareOf))
		}
		k := unitKey{e.Target, e.Unit}
		if inbound[k] == nil {
			inbound[k] = &[2]float64{}
		}
		inbound[k][0] += e.Volume
		inbound[k][1] += e.MTLSVolume
		targetNS[e.Target] = e.TargetNamespace
	}
	var services []Below
	for k, v := range inbound {
		if !(v[0] > 0) {
			continue
		}
		s := v[1] / v[0]
		if s < min {
			services = append(services, Below{Kind: BelowService, Namespace: targetNS[k.target], Name: k.target,
				Unit: k.unit, Volume: v[0], MTLSShare: s})
		}
	}
	slices.SortFunc(services, func(a, b Below) int { return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.Unit, b.Unit)) })
	slices.SortFunc(res.Below, func(a, b Below) int { return strings.Compare(a.Name, b.Name) })
	res.Below = append(res.Below, services...)
	res.Pass = len(res.Below) == 0
	r.Check = res
}

func belowEdge(e EdgeRow, s float64) Below {
	return Below{Kind: BelowEdge, Namespace: e.TargetNamespace, Name: e.Source + " -> " + e.Target, Protocol: e.Protocol,
		Unit: e.Unit, Volume: e.Volume, MTLSShare: s, LastPlaintext: when(e.LastPlaintext)}
}

// Output formats of check and report.
const (
	FormatTable = "table"
	FormatJSON  = "json"
	FormatYAML  = "yaml"
	FormatCSV   = "csv"
)

// WriteJSON writes the report as the API answers it, indented.
func WriteJSON(w io.Writer, r Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteYAML writes the same document as YAML.
func WriteYAML(w io.Writer, r Report) error {
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	out, err := yaml.JSONToYAML(data)
	if err != nil {
		return err
	}
	_, err = w.Write(out)
	return err
}

// WriteCheckTable writes what is below the bar, one line each, then a
// line that says the verdict and the period.
func WriteCheckTable(w io.Writer, r Report) error {
	c := r.Check
	if c == nil {
		return fmt.Errorf("report: no check result")
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if len(c.Below) > 0 {
		fmt.Fprintln(tw, "KIND\tNAMESPACE\tNAME\tPROTOCOL\tMTLS\tVOLUME\tLAST PLAINTEXT")
		for _, b := range c.Below {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s %s\t%s\n", b.Kind, b.Namespace, b.Name, cmp.Or(b.Protocol, "-"),
				percent(b.MTLSShare), formatVolume(b.Volume), b.Unit, cmp.Or(b.LastPlaintext, "-"))
		}
	}
	if len(c.Certificates) > 0 {
		if len(c.Below) > 0 {
			fmt.Fprintln(tw)
		}
		fmt.Fprintln(tw, "CERTIFICATE\tNAME\tNAMESPACES\tNOT AFTER\tLEFT")
		for _, b := range c.Certificates {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", b.Kind, b.Name, strings.Join(b.Namespaces, ","), stamp(b.NotAfter), b.Left)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	edges, services := 0, 0
	for _, b := range c.Below {
		if b.Kind == BelowEdge {
			edges++
		} else {
			services++
		}
	}
	verdict := "PASS"
	if !c.Pass {
		verdict = "FAIL"
	}
	certs := ""
	if c.MinCertValidity != "" {
		certs = fmt.Sprintf("; %d certificates expire within %s", len(c.Certificates), c.MinCertValidity)
	}
	_, err := fmt.Fprintf(w, "%s: %d edges and %d services below %s mTLS of %d edges with traffic from %s to %s (%s, resolution %s)%s\n",
		verdict, edges, services, percent(c.MinMTLS), len(r.Edges), stamp(r.From), stamp(r.To), r.Source.Kind, r.Source.Resolution, certs)
	return err
}
