// The report's period: RFC 3339 times or times relative to now ("30d" is thirty days ago), checked
// against what Prometheus holds, and the bounded steps it is read in.

package report

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/prometheus/common/model"
)

// Period is the half-open interval (From, To] a report covers.
type Period struct {
	From, To time.Time
}

// Length is To - From.
func (p Period) Length() time.Duration { return p.To.Sub(p.From) }

// DefaultLength is the period when no from is given: a week, meshlock's
// default look-back.
const DefaultLength = 7 * 24 * time.Hour

// BadPeriod is an error in the parameters of a period: the caller's to fix
// (a 400 on the API, exit 2 on the command line).
type BadPeriod struct{ msg string }

func (e *BadPeriod) Error() string { return e.msg }

func badPeriod(format string, args ...any) error {
	return &BadPeriod{msg: fmt.Sprintf(format, args...)}
}

// IsBadPeriod reports whether err is the caller's mistake.
func IsBadPeriod(err error) bool {
	_, ok := errors.AsType[*BadPeriod](err)
	return ok
}

// ParseTime reads an RFC 3339 time, "now", or a duration before now
// spelled as PromQL spells it (30d, 12h, 90m, 1w).
func ParseTime(name, v string, now time.Time) (time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "now" {
		return now, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t.UTC(), nil
	}
	if d, err := model.ParseDuration(v); err == nil {
		return now.Add(-time.Duration(d)), nil
	}
	return time.Time{}, badPeriod("%s %q is neither an RFC 3339 time (2026-11-01T00:00:00Z) nor a time before now such as 30d or 12h", name, clip(v))
}

// ParsePeriod reads from and to ("" means now for to, to minus
// DefaultLength for from). The period must be of positive length and not
// reach into the future by more than a minute of clock skew.
func ParsePeriod(from, to string, now time.Time) (Period, error) {
	var p Period
	var err error
	p.To = now
	if to != "" {
		if p.To, err = ParseTime("to", to, now); err != nil {
			return Period{}, err
		}
	}
	p.From = p.To.Add(-DefaultLength)
	if from != "" {
		if p.From, err = ParseTime("from", from, now); err != nil {
			return Period{}, err
		}
	}
	switch {
	case !p.From.Before(p.To):
		return Period{}, badPeriod("from (%s) must be before to (%s)", stamp(p.From), stamp(p.To))
	case p.To.After(now.Add(time.Minute)):
		return Period{}, badPeriod("to (%s) is in the future: the report covers the past, up to now", stamp(p.To))
	case p.Length() < minLength:
		return Period{}, badPeriod("the period from %s to %s is shorter than %s, the report's finest step", stamp(p.From), stamp(p.To), minLength)
	}
	if p.To.After(now) {
		p.To = now
	}
	return p, nil
}

// CheckRetention refuses a period that starts before Prometheus' retention
// (oldest: now minus the retention; zero when unknown, and then anything
// goes: the answer's dataFrom says where the data starts).
func CheckRetention(p Period, oldest time.Time, retention time.Duration) error {
	if !oldest.IsZero() && p.From.Before(oldest) {
		return badPeriod("the period starts at %s, before what Prometheus holds: it keeps %s, so from must be %s or later",
			stamp(p.From), model.Duration(retention), stamp(oldest))
	}
	return nil
}

// minLength is the shortest period and the finest resolution: two
// samples of a 15 s scrape, the least increase() needs.
const minLength = 30 * time.Second

// maxChunk bounds one query's range: a report of thirty days is thirty
// queries of a day, each bounded in time and memory like the look-back's.
const maxChunk = 24 * time.Hour

// maxSteps bounds a chunk's subquery steps, which sets the resolution: a
// day at one minute, longer periods coarser.
const maxSteps = 1440

// Resolution is the step of the report's subqueries, the precision of its
// first and last times: the period over maxSteps steps, at least minLength;
// beyond a minute, whole minutes that divide a day, so that every chunk but
// the oldest is exactly a day.
func Resolution(p Period) time.Duration {
	step := max(minLength, (p.Length()+maxSteps-1)/maxSteps)
	if step <= time.Minute {
		return ((step + time.Second - 1) / time.Second) * time.Second
	}
	minutes := int((step + time.Minute - 1) / time.Minute)
	for maxChunk%(time.Duration(minutes)*time.Minute) != 0 {
		minutes++
	}
	return time.Duration(minutes) * time.Minute
}

// Chunk is one query of a report: the range (End-Range, End].
type Chunk struct {
	End   time.Time
	Range time.Duration
}

// Chunks cuts the period into queries of at most a day, newest first, each
// a whole number of steps.
func Chunks(p Period, step time.Duration) []Chunk { return chunksOf(p, step, maxChunk) }

// chunksOf cuts the period into queries of at most longest.
func chunksOf(p Period, step, longest time.Duration) []Chunk {
	size := max(step, (longest/step)*step)
	var out []Chunk
	for end := p.To; end.After(p.From); end = end.Add(-size) {
		rng := min(size, end.Sub(p.From))
		out = append(out, Chunk{End: end, Range: rng})
	}
	return out
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func clip(s string) string {
	if len(s) > 64 {
		return strings.ToValidUTF8(s[:64], "") + "…"
	}
	return s
}
