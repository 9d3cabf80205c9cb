// The Host check of --auth=none: a request is served only when its Host is a loopback name or
// address, or one named in --allowed-hosts; any other answers 403 (DNS rebinding).

package web

import (
	"net"
	"net/http"
	"strings"
)

// hostCheck refuses, with 403 JSON and before any handler (the stream's
// upgrade too), a request whose Host is neither a loopback name or address
// nor one of allowed (names or addresses).
//
// Why: with --auth=none, reaching the port is the access control. A page on
// another site whose name the attacker re-points at 127.0.0.1 (DNS
// rebinding) is same-origin with itself, so the browser's cross-origin
// defences do not apply — but its requests carry the attacker's name in
// Host. deploy/base allows its own pod's address, which kubelet's probes
// and Prometheus' scrapes send.
func hostCheck(allowed []string) func(http.Handler) http.Handler {
	names := make(map[string]bool, len(allowed))
	for _, h := range allowed {
		h = normalHost(h)
		if ip := net.ParseIP(h); ip != nil {
			h = ip.String() // one spelling of an address
		}
		names[h] = true
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if host := normalHost(r.Host); !hostAllowed(host, names) {
				writeError(w, http.StatusForbidden, "host "+quoteInput(host)+" is not served: with --auth=none only loopback names and addresses and --allowed-hosts are")
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// normalHost is host without its port and trailing dot, in lower case.
func normalHost(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimPrefix(strings.TrimSuffix(host, "]"), "[")
	return strings.ToLower(strings.TrimSuffix(host, "."))
}

func hostAllowed(host string, names map[string]bool) bool {
	switch {
	case host == "":
		return false // HTTP/1.0 without Host: nothing says where it was meant to go
	case host == "localhost" || strings.HasSuffix(host, ".localhost"):
		return true // RFC 6761: always the loopback
	}
	if ip := net.ParseIP(host); ip != nil {
		return ip.IsLoopback() || names[ip.String()]
	}
	return names[host]
}
