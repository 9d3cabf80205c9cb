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

	"sigs.k8s.io/yaml"

	"github.com/meshlock/meshlock/internal/graph"
)

// CheckResult is what `meshlock check` judged.
type CheckResult struct {
	MinMTLS float64 `json:"minMTLS"`
	// Pass: nothing is below the bar.
	Pass  bool    `json:"pass"`
	Below []Below `json:"below"`
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
	_, err := fmt.Fprintf(w, "%s: %d edges and %d services below %s mTLS of %d edges with traffic from %s to %s (%s, resolution %s)\n",
		verdict, edges, services, percent(c.MinMTLS), len(r.Edges), stamp(r.From), stamp(r.To), r.Source.Kind, r.Source.Resolution)
	return err
}
