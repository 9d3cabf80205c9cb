// What the scale command reads: meshlock's /metrics, Prometheus' query log, a process's memory and
// CPU from /proc, and the machine. The parsers are pure, for the unit test.

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// serverMetrics are the figures read from meshlock's /metrics.
type serverMetrics struct {
	Queries      float64 // meshlock_prometheus_queries_total, every query and result
	QueryErrors  float64 // the same with result="error"
	Refreshes    float64 // meshlock_refresh_duration_seconds_count
	RefreshTotal float64 // meshlock_refresh_duration_seconds_sum, seconds
	// RefreshErrors is meshlock_refresh_errors_total, every source.
	RefreshErrors float64
}

// sub is the change from before to m.
func (m serverMetrics) sub(before serverMetrics) serverMetrics {
	return serverMetrics{
		Queries:      m.Queries - before.Queries,
		QueryErrors:  m.QueryErrors - before.QueryErrors,
		Refreshes:    m.Refreshes - before.Refreshes,
		RefreshTotal: m.RefreshTotal - before.RefreshTotal,

		RefreshErrors: m.RefreshErrors - before.RefreshErrors,
	}
}

// parseServerMetrics reads the Prometheus text format of /metrics.
func parseServerMetrics(r io.Reader) (serverMetrics, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(r)
	if err != nil {
		return serverMetrics{}, fmt.Errorf("parsing /metrics: %w", err)
	}
	var out serverMetrics
	queries, ok := families["meshlock_prometheus_queries_total"]
	if !ok {
		return out, fmt.Errorf("/metrics has no meshlock_prometheus_queries_total")
	}
	for _, m := range queries.GetMetric() {
		v := m.GetCounter().GetValue()
		out.Queries += v
		for _, l := range m.GetLabel() {
			if l.GetName() == "result" && l.GetValue() == "error" {
				out.QueryErrors += v
			}
		}
	}
	refresh, ok := families["meshlock_refresh_duration_seconds"]
	if !ok {
		return out, fmt.Errorf("/metrics has no meshlock_refresh_duration_seconds")
	}
	for _, m := range refresh.GetMetric() {
		h := m.GetHistogram()
		out.Refreshes += float64(h.GetSampleCount())
		out.RefreshTotal += h.GetSampleSum()
	}
	if errs, ok := families["meshlock_refresh_errors_total"]; ok {
		for _, m := range errs.GetMetric() {
			out.RefreshErrors += m.GetCounter().GetValue()
		}
	}
	return out, nil
}

// queryLogEntry is one line of Prometheus' query log (query_log_file).
// Prometheus 2.42 (Debian bookworm) writes, per query,
// {"params":{"query","start","end","step"}, "stats":{"timings":{
// "evalTotalTime","resultSortTime","queryPreparationTime","innerEvalTime",
// "execQueueTime","execTotalTime"}, "samples":{"totalQueryableSamples",
// "peakSamples"}}, "ts"}, times in seconds. evalTotalTime covers the
// preparation, the inner evaluation and the sort; execQueueTime is the wait
// for a free query slot before it, apart.
type queryLogEntry struct {
	Params struct {
		Query string `json:"query"`
	} `json:"params"`
	Stats struct {
		Timings struct {
			EvalTotalTime        float64 `json:"evalTotalTime"`
			QueryPreparationTime float64 `json:"queryPreparationTime"`
			InnerEvalTime        float64 `json:"innerEvalTime"`
			ExecQueueTime        float64 `json:"execQueueTime"`
			ExecTotalTime        float64 `json:"execTotalTime"`
		} `json:"timings"`
		Samples struct {
			TotalQueryableSamples int64 `json:"totalQueryableSamples"`
			PeakSamples           int64 `json:"peakSamples"`
		} `json:"samples"`
	} `json:"stats"`
	TS time.Time `json:"ts"`
}

// parseQueryLog reads every line; a line that is not JSON (a torn last
// line while Prometheus writes) is skipped.
func parseQueryLog(r io.Reader) ([]queryLogEntry, error) {
	var out []queryLogEntry
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20) // the history query's text is long
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var e queryLogEntry
		if err := json.Unmarshal(line, &e); err != nil {
			continue
		}
		out = append(out, e)
	}
	return out, sc.Err()
}

// evalSum adds up the timings of the entries logged in [from, to] that
// match.
type evalSum struct {
	Count   int
	Eval    float64 // evalTotalTime, seconds
	Queue   float64 // execQueueTime, seconds
	Samples int64   // totalQueryableSamples
}

func sumQueries(entries []queryLogEntry, from, to time.Time, match func(query string) bool) evalSum {
	var s evalSum
	for _, e := range entries {
		if e.TS.Before(from) || e.TS.After(to) || !match(e.Params.Query) {
			continue
		}
		s.Count++
		s.Eval += e.Stats.Timings.EvalTotalTime
		s.Queue += e.Stats.Timings.ExecQueueTime
		s.Samples += e.Stats.Samples.TotalQueryableSamples
	}
	return s
}

func readQueryLog(path string) ([]queryLogEntry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseQueryLog(f)
}

// procStats are a process's memory and CPU time.
type procStats struct {
	RSS, PeakRSS int64 // bytes: VmRSS, VmHWM
	CPU          time.Duration
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's times: 100 on
// every Linux architecture Go runs on.
const clockTicks = 100

func readProc(pid int) (procStats, error) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return procStats{}, err
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStats{}, err
	}
	return parseProc(string(status), string(stat))
}

// parseProc reads VmRSS and VmHWM from /proc/<pid>/status and utime +
// stime from /proc/<pid>/stat (fields 14 and 15, counted after the
// command's closing parenthesis, since the command may hold spaces).
func parseProc(status, stat string) (procStats, error) {
	var out procStats
	for line := range strings.SplitSeq(status, "\n") {
		name, value, ok := strings.Cut(line, ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		fields := strings.Fields(value)
		if len(fields) != 2 || fields[1] != "kB" {
			return out, fmt.Errorf("/proc status %s: %q", name, value)
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return out, fmt.Errorf("/proc status %s: %w", name, err)
		}
		if name == "VmRSS" {
			out.RSS = kb << 10
		} else {
			out.PeakRSS = kb << 10
		}
	}
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return out, fmt.Errorf("/proc stat: no command")
	}
	fields := strings.Fields(stat[i+1:]) // field 3 (state) onwards
	if len(fields) < 13 {
		return out, fmt.Errorf("/proc stat: %d fields", len(fields))
	}
	var ticks int64
	for _, f := range fields[11:13] { // utime, stime
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return out, fmt.Errorf("/proc stat: %w", err)
		}
		ticks += n
	}
	out.CPU = time.Duration(ticks) * time.Second / clockTicks
	return out, nil
}

// machine describes the computer the figures come from.
func machine() string {
	arch := runtime.GOARCH
	if out, err := exec.Command("uname", "-m").Output(); err == nil {
		arch = strings.TrimSpace(string(out))
	}
	model := "unknown CPU"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(data), "\n") {
			if name, value, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(name) == "model name" {
				model = strings.TrimSpace(value)
				break
			}
		}
	}
	memory := ""
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.SplitSeq(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				if kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64); err == nil {
					memory = fmt.Sprintf(", %.1f GiB memory", float64(kb)/(1<<20))
				}
			}
		}
	}
	return fmt.Sprintf("%s, %s, %d cores%s", arch, model, runtime.NumCPU(), memory)
}
