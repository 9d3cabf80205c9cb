// The Host check of --auth=none: a request is served only when its Host names this machine's
// loopback, an IP address, or a name in --allowed-hosts; any other name answers 403 (DNS rebinding).

package web

import (
	"net"
	"net/http"
	"strings"
)

// hostCheck refuses, with 403 JSON and before any handler (the stream's
// upgrade too), a request whose Host is a name that is neither a loopback
// name nor one of allowed.
//
// Why: with --auth=none, reaching the port is the access control. A page on
// another site whose name the attacker re-points at 127.0.0.1 (DNS
// rebinding) is same-origin with itself, so the browser's cross-origin
// defences do not apply — but its requests carry the attacker's name in
// Host. An IP address in Host cannot come from rebinding (the page's origin
// would be that address, i.e. meshlock itself), and it is what kubelet's
// probes and Prometheus' scrapes of a pod send, so addresses pass.
func hostCheck(allowed []string) func(http.Handler) http.Handler {
	names := make(map[string]bool, len(allowed))
	for _, h := range allowed {
		names[normalHost(h)] = true
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if host := normalHost(r.Host); !hostAllowed(host, names) {
				writeError(w, http.StatusForbidden, "host "+quoteInput(host)+" is not served: with --auth=none only loopback names, addresses and --allowed-hosts are")
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
	case net.ParseIP(host) != nil:
		return true
	case host == "localhost" || strings.HasSuffix(host, ".localhost"):
		return true // RFC 6761: always the loopback
	}
	return names[host]
}
