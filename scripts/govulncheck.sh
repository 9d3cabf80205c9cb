#!/usr/bin/env bash
# govulncheck against a local copy of the Go vulnerability database, for
# machines that reach only the Go module proxy (no https://vuln.go.dev).
#
# The database's source, golang.org/x/vulndb, is a Go module: its
# data/osv/ folder holds every report in OSV JSON. The module proxy serves
# it like any module (at a pseudo-version; the repository has no tags), and
# the repository's own cmd/indexdb turns that folder into the v1 database
# layout (index/db.json, index/modules.json, index/vulns.json, ID/*.json)
# that `govulncheck -db file://...` reads. Nothing else is fetched.
#
# Usage: scripts/govulncheck.sh [packages]   (default ./...)
# Environment:
#   VULNDB_VERSION      golang.org/x/vulndb version (default: latest)
#   GOVULNCHECK_VERSION golang.org/x/vuln version (default: latest)
#   GOVULN_CACHE        where tools and the built database are kept
#                       (default: $(go env GOCACHE)/meshlock-govulncheck)
# Exit status: govulncheck's (3 when vulnerable code is called).
set -euo pipefail

cd "$(dirname "$0")/.."
vulndb_version=${VULNDB_VERSION:-latest}
vuln_version=${GOVULNCHECK_VERSION:-latest}
cache=${GOVULN_CACHE:-$(go env GOCACHE)/meshlock-govulncheck}
mkdir -p "$cache/bin"

# Resolve "latest" once, so the tool and the data are the same version.
json=$(cd "$cache" && GOFLAGS=-mod=mod go mod download -json "golang.org/x/vulndb@$vulndb_version")
dir=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p' <<<"$json")
version=$(sed -n 's/^[[:space:]]*"Version": "\(.*\)",*$/\1/p' <<<"$json")
if [[ -z "$dir" || ! -d "$dir/data/osv" ]]; then
	echo "govulncheck.sh: golang.org/x/vulndb@$vulndb_version has no data/osv folder" >&2
	exit 1
fi

GOBIN="$cache/bin" go install "golang.org/x/vulndb/cmd/indexdb@$version"
GOBIN="$cache/bin" go install "golang.org/x/vuln/cmd/govulncheck@$vuln_version"

db="$cache/db-$version"
if [[ ! -f "$db/index/db.json" ]]; then
	rm -rf "$db.tmp"
	"$cache/bin/indexdb" -vulns "$dir/data/osv" -out "$db.tmp"
	mv "$db.tmp" "$db"
fi
echo "govulncheck.sh: database golang.org/x/vulndb@$version ($(find "$db/ID" -name '*.json' | wc -l) entries)" >&2

# GOPROXY=off: the scan itself needs nothing from the network.
GOPROXY=off exec "$cache/bin/govulncheck" -db "file://$db" "${@:-./...}"
