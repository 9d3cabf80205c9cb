package prom

import (
	"testing"
	"time"
)

func TestRetentionFromPrometheusFlags(t *testing.T) {
	day := 24 * time.Hour
	for _, tc := range []struct {
		flags map[string]string
		want  time.Duration
	}{
		{map[string]string{"storage.tsdb.retention.time": "30d", "storage.tsdb.retention.size": "0B"}, 30 * day},
		// Prometheus 2.x shows 0s when the default applies.
		{map[string]string{"storage.tsdb.retention.time": "0s", "storage.tsdb.retention.size": "0B"}, 15 * day},
		{map[string]string{"storage.tsdb.retention.time": "0s", "storage.tsdb.retention": "48h"}, 48 * time.Hour},
		{map[string]string{"storage.tsdb.retention.time": "0s", "storage.tsdb.retention.size": "50GB"}, 0},
		{map[string]string{"query.max-samples": "50000000"}, 0}, // not Prometheus' TSDB
	} {
		if got, err := retentionOf(tc.flags); err != nil || got != tc.want {
			t.Errorf("retentionOf(%v) = %s, %v; want %s", tc.flags, got, err, tc.want)
		}
	}
	if _, err := retentionOf(map[string]string{"storage.tsdb.retention.time": "a while"}); err == nil {
		t.Error("an unreadable retention is accepted")
	}
}
