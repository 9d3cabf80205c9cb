package e2e

// Accessibility checks of the dashboard in Chromium: axe-core run in the
// page, the colour scheme the page is asked for, and keys pressed as a
// keyboard presses them (trusted events, so focus moves and the default
// actions happen as they would for a person).
//
// axe-core is vendored by scripts/vendor-js.sh into testdata/ (the
// dashboard's static handler never serves it) and embedded here; it is
// injected through the DevTools protocol, which the page's CSP does not
// govern.

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

//go:embed testdata/axe.min.js
var axeSource string

// AxeViolation is one rule axe-core found broken, with the elements that break it.
type AxeViolation struct {
	ID      string    `json:"id"`
	Impact  string    `json:"impact"`
	Help    string    `json:"help"`
	HelpURL string    `json:"helpUrl"`
	Nodes   []AxeNode `json:"nodes"`
	Tags    []string  `json:"tags"`
}

// AxeNode is an element that breaks a rule: its selector (target), its
// HTML and what axe says would fix it.
type AxeNode struct {
	Target  []any  `json:"target"`
	HTML    string `json:"html"`
	Impact  string `json:"impact"`
	Summary string `json:"failureSummary"`
}

// Serious tells whether axe rates the violation serious or critical.
func (v AxeViolation) Serious() bool { return v.Impact == "serious" || v.Impact == "critical" }

// String is the violation in a few lines: its id, impact and help, then
// each element's selector and what would fix it.
func (v AxeViolation) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s): %s <%s>", v.ID, v.Impact, v.Help, v.HelpURL)
	for _, n := range v.Nodes {
		var target bytes.Buffer
		enc := json.NewEncoder(&target)
		enc.SetEscapeHTML(false) // selectors hold > and quotes
		_ = enc.Encode(n.Target)
		fmt.Fprintf(&b, "\n    %s %s", strings.TrimSpace(target.String()), strings.Join(strings.Fields(n.Summary), " "))
	}
	return b.String()
}

// Axe runs axe-core on the page's document with the WCAG 2.x A and AA rules
// and the best practices, and answers its violations (every impact).
func (b *Browser) Axe() ([]AxeViolation, error) {
	ctx, cancel := context.WithTimeout(b.ctx, HangBound)
	defer cancel()
	loaded, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`typeof window.axe === 'object'`))
	if err != nil {
		return nil, err
	}
	if !loaded {
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](axeSource+"\n;typeof window.axe === 'object'")); err != nil {
			return nil, fmt.Errorf("e2e: injecting axe-core: %w", err)
		}
	}
	const run = `axe.run(document, {
		runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice']},
		resultTypes: ['violations'],
	}).then((r) => JSON.stringify(r.violations))`
	out, err := chromedp.Run(ctx, chromedp.Evaluate[string](run, chromedp.EvalAwaitPromise))
	if err != nil {
		return nil, fmt.Errorf("e2e: running axe-core: %w", err)
	}
	var violations []AxeViolation
	if err := json.Unmarshal([]byte(out), &violations); err != nil {
		return nil, fmt.Errorf("e2e: axe-core's answer: %w", err)
	}
	return violations, nil
}

// ColorScheme makes the page's prefers-color-scheme "light" or "dark"
// ("" for the browser's own), as the operating system's setting would.
func (b *Browser) ColorScheme(scheme string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, HangBound)
	defer cancel()
	err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
		})
		return err
	}))
	if err != nil {
		b.t.Fatalf("e2e: emulating prefers-color-scheme %q: %v", scheme, err)
	}
}

// Press types keys into the focused element as trusted key events; the
// special keys are chromedp's kb constants (kb.Tab, kb.ArrowDown, kb.Enter,
// kb.Escape).
func (b *Browser) Press(keys string, opts ...chromedp.KeyOption) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, HangBound)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.KeyEvent(keys, opts...)); err != nil {
		b.t.Fatalf("e2e: pressing %q: %v", keys, err)
	}
}
