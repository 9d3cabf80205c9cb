// The report as CSV: one table, the same columns on every row, a record column telling
// namespace, edge, exception and action rows apart, so that any CSV reader takes it.

package report

import (
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

var csvHeader = []string{"record", "namespace", "name", "protocol", "status", "unit", "volume", "mtls_volume",
	"mtls_share", "first_plaintext", "last_plaintext", "policy", "kind", "detail", "time"}

// formattedColumns are the cells meshlock formats itself from numbers and
// times (num, ratio, when, RFC 3339): they stay as they are, so that a
// spreadsheet reads them as numbers and times. Every other cell is text.
var formattedColumns = map[string]bool{"volume": true, "mtls_volume": true, "mtls_share": true,
	"first_plaintext": true, "last_plaintext": true, "time": true}

// neutralise defuses CSV injection (formula injection; OWASP, "CSV
// Injection"): text cells carry names and labels a workload or a user can
// choose (namespaces, workloads, principals from Prometheus labels, an audit
// record's user, error messages), and a spreadsheet runs a cell that starts
// with =, +, -, @, a tab or a carriage return as a formula. A leading single
// quote makes it text, as OWASP recommends; encoding/csv already quotes
// separators and quotes, so no other cell can begin inside one.
func neutralise(cell string) string {
	if cell != "" && strings.IndexByte("=+-@\t\r", cell[0]) >= 0 {
		return "'" + cell
	}
	return cell
}

// WriteCSV writes the report: a row per namespace and unit with traffic,
// per edge, per exception, per action and per trusted root certificate.
func WriteCSV(w io.Writer, r Report) error {
	cw := csv.NewWriter(w)
	rows := [][]string{csvHeader}
	rec := func(fields map[string]string) {
		row := make([]string, len(csvHeader))
		for i, h := range csvHeader {
			if row[i] = fields[h]; !formattedColumns[h] {
				row[i] = neutralise(row[i])
			}
		}
		rows = append(rows, row)
	}
	for _, n := range r.ByNS {
		for _, u := range []struct {
			unit        string
			volume, mtl float64
			share       *float64
		}{{"requests", n.Requests, n.MTLSRequests, n.RequestShare}, {"bytes", n.Bytes, n.MTLSBytes, n.ByteShare}} {
			if u.share == nil {
				continue
			}
			rec(map[string]string{"record": "namespace", "namespace": n.Namespace, "unit": u.unit,
				"volume": num(u.volume), "mtls_volume": num(u.mtl), "mtls_share": ratio(u.share),
				"first_plaintext": when(n.FirstPlaintext), "last_plaintext": when(n.LastPlaintext),
				"policy": policies(n.Policies)})
		}
	}
	for _, e := range r.Edges {
		rec(map[string]string{"record": "edge", "namespace": e.TargetNamespace, "name": e.Source + " -> " + e.Target,
			"protocol": e.Protocol, "status": e.Status, "unit": e.Unit, "volume": num(e.Volume), "mtls_volume": num(e.MTLSVolume),
			"mtls_share": ratio(e.MTLSShare), "first_plaintext": when(e.FirstPlaintext), "last_plaintext": when(e.LastPlaintext),
			"policy": edgePolicy(e.Policy)})
	}
	for _, x := range r.Exceptions {
		name := x.Name
		if x.Port != 0 {
			name += ":" + strconv.Itoa(int(x.Port))
		}
		rec(map[string]string{"record": "exception", "namespace": x.Namespace, "name": name, "kind": x.Kind, "detail": x.Detail})
	}
	for _, a := range r.Actions {
		status := "applied"
		if a.Undone {
			status = "undone by " + a.UndoneBy + " at " + when(a.UndoneAt)
		}
		if a.Error != "" {
			status = "failed: " + a.Error
		}
		// With several clusters the namespace is "<cluster>/<namespace>", as
		// the graph's ids and the identity's namespaces name it.
		ns := a.Namespace
		if a.Cluster != "" {
			ns = a.Cluster + "/" + a.Namespace
		}
		rec(map[string]string{"record": "action", "namespace": ns, "name": a.ID, "status": status,
			"policy": a.Scope + " " + a.Mode, "kind": a.Who, "detail": strings.Join(a.Objects, "; "), "time": a.At.Format(time.RFC3339)})
	}
	for _, root := range r.Identity.Roots {
		status := "valid until " + root.NotAfter.UTC().Format(time.RFC3339)
		if !root.NotAfter.After(r.GeneratedAt) {
			status = "expired"
		}
		signed := "signed by " + root.Issuer
		if root.SelfSigned {
			signed = "self-signed"
		}
		rec(map[string]string{"record": "root", "namespace": strings.Join(root.Namespaces, " "), "name": root.Subject,
			"status": status, "kind": root.KeyAlgorithm + " " + strconv.Itoa(root.KeySize),
			"detail": "sha256 " + root.Fingerprint + "; serial " + root.Serial + "; " + signed + "; not before " + root.NotBefore.UTC().Format(time.RFC3339),
			"time":   root.NotAfter.UTC().Format(time.RFC3339)})
	}
	for _, a := range r.Access {
		rec(map[string]string{"record": "access", "namespace": a.Namespace, "name": a.Service, "status": a.State,
			"policy": strings.Join(a.Policies, " "),
			"detail": fmt.Sprintf("%d allowed, %d denied, %d conditional", a.Allowed, a.Denied, a.Conditional) + deniedList(a.DeniedCallers)})
	}
	for _, f := range r.IdentityFindings {
		rec(map[string]string{"record": "finding", "name": strings.Join(append(append(slices.Clone(f.Nodes), f.Edges...), f.Objects...), "; "),
			"status": f.Severity, "kind": f.Kind, "detail": f.Message})
	}
	if err := cw.WriteAll(rows); err != nil {
		return err
	}
	return cw.Error()
}

func num(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func ratio(p *float64) string {
	if p == nil {
		return ""
	}
	return strconv.FormatFloat(*p, 'f', 4, 64)
}

func when(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func policies(counts map[string]int) string {
	var parts []string
	for _, mode := range []string{"STRICT", "PERMISSIVE", "DISABLE", "UNSET"} {
		if n := counts[mode]; n > 0 {
			parts = append(parts, mode+"="+strconv.Itoa(n))
		}
	}
	return strings.Join(parts, " ")
}

func edgePolicy(p Policy) string {
	var parts []string
	if p.PeerAuthentication != "" {
		parts = append(parts, "PeerAuthentication "+p.PeerAuthentication)
	}
	for _, port := range p.Ports {
		if port.PeerAuthentication != p.PeerAuthentication {
			parts = append(parts, "port "+strconv.Itoa(int(port.Port))+" "+port.PeerAuthentication)
		}
	}
	if p.DestinationRuleTLS != "" {
		parts = append(parts, "DestinationRule "+p.DestinationRuleTLS)
	}
	return strings.Join(parts, "; ")
}

// deniedList names the denied callers after the counts: "; denied: a, b".
func deniedList(ids []string) string {
	if len(ids) == 0 {
		return ""
	}
	return "; denied: " + strings.Join(ids, ", ")
}
