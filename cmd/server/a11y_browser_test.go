// The page respects its users (issue 23): axe-core finds no serious or critical violation on the
// demo, light and dark, with the enforce dialog open too; the theme follows the system and the
// header's toggle, remembered across a reload; the graph, the tables and the dialog work from the
// keyboard, and every stop of the Tab order shows where the focus is.

package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/meshlock/meshlock/test/e2e"
)

// a11yDrawn: the page is ready and has drawn the demo's live edges, in the graph and the table.
const a11yDrawn = `window.meshlock?.ready === true && document.querySelectorAll('[data-testid=padlock]').length > 0 &&
	document.querySelectorAll('[data-testid=edge-row]').length > 0`

const a11yState = `JSON.stringify({ready: window.meshlock?.ready, theme: window.meshlock?.theme, padlocks: document.querySelectorAll('[data-testid=padlock]').length,
	rows: document.querySelectorAll('[data-testid=edge-row]').length, active: document.activeElement?.outerHTML?.slice(0, 160)})`

// checkAxe runs axe-core on the page and fails the test on every serious
// or critical violation, printing each (id, impact, help, target nodes);
// the others are logged.
func checkAxe(t *testing.T, browser *e2e.Browser, where string) {
	t.Helper()
	violations, err := browser.Axe()
	if err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	for _, v := range violations {
		if v.Serious() {
			t.Errorf("%s: axe-core: %s", where, v)
		} else {
			t.Logf("%s: axe-core (not failing): %s", where, v)
		}
	}
}

// The demo in the system's light and dark schemes: the page, its graph and
// its panels in that theme's colours, and nothing serious for axe-core,
// with the enforce dialog open too; Escape closes the dialog and gives the
// focus back to the button that opened it.
func TestA11yAxeOnTheDemo(t *testing.T) {
	base := startMeshlock(t, "--demo", "--refresh=1s", "--window=5s")
	browser := e2e.StartBrowser(t, 1280, 800)
	panels := map[string]string{}
	for _, scheme := range []string{"light", "dark"} {
		t.Run(scheme, func(t *testing.T) {
			browser.ColorScheme(scheme)
			browser.Open(base + "/")
			browser.WaitFor("the demo drawn in the "+scheme+" theme", a11yDrawn+` && window.meshlock.theme.resolved === '`+scheme+`' &&
				document.querySelector('[data-testid=graph]').dataset.theme === '`+scheme+`'`, a11yState)
			got, err := e2e.Eval[string](browser, `[getComputedStyle(document.documentElement).colorScheme, getComputedStyle(document.querySelector('.panel')).backgroundColor,
				document.documentElement.dataset.theme || 'none', document.querySelector('[data-testid=theme-select]').value].join('|')`)
			if err != nil {
				t.Fatal(err)
			}
			parts := strings.Split(got, "|")
			if len(parts) != 4 || parts[0] != scheme || parts[2] != "none" || parts[3] != "system" {
				t.Errorf("the page in the system's %s scheme: %q, want color-scheme %s, no data-theme, the toggle on system", scheme, got, scheme)
			}
			panels[scheme] = parts[1]
			checkAxe(t, browser, scheme+" page")

			// What the page shows on demand: an edge's details and history, the table of
			// services and workloads, the identity panel.
			browser.Click(`[data-testid=edge-row]`)
			browser.Click(`#nodes-block summary`)
			browser.Click(`[data-testid=identity-open]`)
			browser.WaitFor("the details, the node table and the identity panel", `document.querySelector('[data-testid=side-panel]').dataset.kind === 'edge' &&
				document.querySelector('[data-testid=edge-history-chart]') !== null && document.querySelectorAll('[data-testid=node-row]').length > 0 &&
				document.querySelector('[data-testid=identity-panel]').dataset.state === 'ready'`, a11yState)
			checkAxe(t, browser, scheme+" page with an edge's details, the node table and the identity panel")

			browser.Click(`[data-testid=enforce-mesh]`)
			const dialog = `document.querySelector('[data-testid=enforce-dialog]')`
			browser.WaitFor("the mesh's plan", dialog+`.open && `+dialog+`.dataset.state === 'ready'`, dialog+`.dataset.state`)
			checkAxe(t, browser, scheme+" page with the enforce dialog open")
			browser.Press(kb.Escape)
			browser.WaitFor("Escape closes the dialog, the focus back on its opener",
				`!`+dialog+`.open && document.activeElement?.dataset.testid === 'enforce-mesh'`, a11yState)
		})
	}
	if panels["light"] == "" || panels["light"] == panels["dark"] {
		t.Errorf("a panel's background: light %q, dark %q: want the themes to differ", panels["light"], panels["dark"])
	}
}

// The header's toggle overrides the system and is remembered in this
// browser: dark on a light system, before the modules run on a reload (the
// classic theme-boot.js); back to the system's when "System" is chosen.
func TestA11yThemeToggle(t *testing.T) {
	base := startMeshlock(t, "--demo", "--refresh=1s", "--window=5s")
	browser := e2e.StartBrowser(t, 1280, 800)
	browser.ColorScheme("light")
	browser.Open(base + "/")
	browser.WaitFor("the page ready", a11yDrawn, a11yState)
	choose := func(value string) {
		t.Helper()
		if _, err := e2e.Eval[bool](browser, `(() => { const s = document.querySelector('[data-testid=theme-select]'); s.value = '`+value+`';
			s.dispatchEvent(new Event('change', {bubbles: true})); return true; })()`); err != nil {
			t.Fatal(err)
		}
	}
	choose("dark")
	const dark = `document.documentElement.dataset.theme === 'dark' && getComputedStyle(document.documentElement).colorScheme === 'dark' &&
		window.meshlock.theme.resolved === 'dark' && document.querySelector('[data-testid=graph]').dataset.theme === 'dark'`
	browser.WaitFor("dark on a light system", dark, a11yState)
	if stored, err := e2e.Eval[string](browser, `localStorage.getItem('meshlock.theme')`); err != nil || stored != "dark" {
		t.Errorf("stored theme %q (%v), want dark", stored, err)
	}
	// A reload: dark from the first paint, which the classic script in <head> sets before any module runs.
	browser.Open(base + "/")
	if early, err := e2e.Eval[string](browser, `document.documentElement.dataset.theme || ''`); err != nil || early != "dark" {
		t.Errorf("after a reload <html data-theme> is %q (%v), want dark", early, err)
	}
	browser.WaitFor("still dark after a reload, the toggle saying so", dark+` && document.querySelector('[data-testid=theme-select]').value === 'dark'`, a11yState)
	choose("system")
	browser.WaitFor("the system's light again", `!document.documentElement.hasAttribute('data-theme') && window.meshlock.theme.resolved === 'light' &&
		localStorage.getItem('meshlock.theme') === null`, a11yState)
}

// The graph from the keyboard: Tab reaches its box; the arrows walk its
// services and their calls; Enter shows one in the side panel, Escape
// clears it. The edge table's rows: one Tab stop, the arrows, Home and End,
// Enter and Escape. The enforce dialog keeps the focus inside. And every
// stop of the Tab order shows a focus ring.
func TestA11yKeyboard(t *testing.T) {
	base := startMeshlock(t, "--demo", "--refresh=1s", "--window=5s")
	browser := e2e.StartBrowser(t, 1280, 800)
	browser.Open(base + "/")
	browser.WaitFor("the page ready", a11yDrawn, a11yState)

	// Tab from the top of the page to the graph.
	const active = `document.activeElement`
	reached := false
	for range 60 {
		browser.Press(kb.Tab)
		if id, _ := e2e.Eval[string](browser, active+`?.id || ''`); id == "graph" {
			reached = true
			break
		}
	}
	if !reached {
		t.Fatalf("Tab does not reach the graph: %s", evalString(t, browser, a11yState))
	}
	const graph = `document.querySelector('[data-testid=graph]')`
	cursor := func() (string, string) {
		t.Helper()
		got := evalString(t, browser, graph+`.dataset.cursorKind + '|' + `+graph+`.dataset.cursor`)
		kind, id, _ := strings.Cut(got, "|")
		return kind, id
	}
	browser.WaitFor("the cursor on a service, said in words", graph+`.dataset.cursorKind === 'node' && !document.querySelector('[data-testid=graph-cursor]').hidden &&
		document.querySelector('[data-testid=graph-live]').textContent.includes(' of ')`, a11yState)
	if ring := evalString(t, browser, `getComputedStyle(`+graph+`).outlineStyle + ' ' + `+graph+`.matches(':focus-visible')`); ring != "solid true" {
		t.Errorf("the graph's focus ring: %q", ring)
	}
	_, first := cursor()
	browser.Press(kb.ArrowDown)
	kind, second := cursor()
	if kind != "node" || second == first {
		t.Errorf("↓ from %s: %s %s, want the next service", first, kind, second)
	}
	// → to the service's calls until one is found (a service may have none), Enter selects it.
	for range 20 {
		browser.Press(kb.ArrowRight)
		if kind, _ := cursor(); kind == "edge" {
			break
		}
		browser.Press(kb.ArrowDown)
	}
	kind, edgeID := cursor()
	if kind != "edge" {
		t.Fatalf("no service with a call reached with ↓ and →: %s", evalString(t, browser, a11yState))
	}
	if live := evalString(t, browser, `document.querySelector('[data-testid=graph-live]').textContent`); !strings.Contains(live, "Call 1 of") {
		t.Errorf("the live region on an edge says %q, want its place among the service's calls", live)
	}
	if n := evalString(t, browser, `String(document.querySelectorAll('[data-testid=padlock].kbd-cursor').length)`); n != "1" {
		t.Errorf("%s padlocks marked as the keyboard's, want the edge's one", n)
	}
	browser.Press(kb.Enter)
	browser.WaitFor("Enter shows the edge in the side panel", `window.meshlock.selected?.kind === 'edge' && window.meshlock.selected.id === `+jsString(edgeID)+
		` && document.querySelector('[data-testid=side-panel]').dataset.id === `+jsString(edgeID), a11yState)
	browser.Press(kb.ArrowRight)
	if kind, id := cursor(); kind != "node" || !strings.Contains(edgeID, id) {
		t.Errorf("→ along %s: %s %s, want its other end", edgeID, kind, id)
	}
	browser.Press(kb.Escape)
	browser.WaitFor("Escape clears the side panel, the focus staying on the graph", `window.meshlock.selected === null && document.querySelector('[data-testid=side-panel]').dataset.kind === '' && `+active+` === `+graph, a11yState)

	// The edge table: one row in the Tab order; the arrows, End and Home; Enter selects.
	const rows = `[...document.querySelectorAll('[data-testid=edge-row]')]`
	if n := evalString(t, browser, `String(`+rows+`.filter((r) => r.tabIndex === 0).length)`); n != "1" {
		t.Errorf("%s edge rows in the Tab order, want 1", n)
	}
	if _, err := e2e.Eval[bool](browser, `(`+rows+`.find((r) => r.tabIndex === 0).focus(), true)`); err != nil {
		t.Fatal(err)
	}
	rowIndex := func() string {
		return evalString(t, browser, `String(`+rows+`.indexOf(`+active+`))`)
	}
	browser.Press(kb.Home)
	browser.Press(kb.ArrowDown)
	if got := rowIndex(); got != "1" {
		t.Errorf("Home then ↓: row %s, want the second (1)", got)
	}
	browser.Press(kb.End)
	if got, last := rowIndex(), evalString(t, browser, `String(`+rows+`.length - 1)`); got != last {
		t.Errorf("End: row %s, want the last (%s)", got, last)
	}
	browser.Press(kb.Home)
	rowID := evalString(t, browser, active+`.dataset.edgeId`)
	browser.Press(kb.Enter)
	browser.WaitFor("Enter on a row selects its edge", `window.meshlock.selected?.id === `+jsString(rowID), a11yState)
	browser.Press(kb.Escape)
	browser.WaitFor("Escape on a row clears the side panel", `window.meshlock.selected === null && `+active+`.dataset.edgeId === `+jsString(rowID), a11yState)
	if n := evalString(t, browser, `String(`+rows+`.filter((r) => r.tabIndex === 0).length) + (`+rows+`[0].tabIndex === 0)`); n != "1true" {
		t.Errorf("after moving: %s, want one row in the Tab order, the focused one", n)
	}

	// The enforce dialog: Tab and Shift+Tab go round its controls, never out of it.
	const dialog = `document.querySelector('[data-testid=enforce-dialog]')`
	browser.Click(`[data-testid=enforce-mesh]`)
	browser.WaitFor("the mesh's plan", dialog+`.open && `+dialog+`.dataset.state === 'ready' && `+dialog+`.contains(`+active+`)`, a11yState)
	seen := map[string]bool{}
	for i := range 40 {
		browser.Press(kb.Tab)
		where := evalString(t, browser, `(`+dialog+`.contains(`+active+`) ? 'in ' : 'OUT ') + `+active+`.outerHTML.slice(0, 100)`)
		if !strings.HasPrefix(where, "in ") {
			t.Fatalf("Tab %d left the dialog: %s", i+1, where)
		}
		if seen[where] {
			break // round once
		}
		seen[where] = true
	}
	if len(seen) < 3 {
		t.Errorf("Tab went round %d controls of the dialog, want its mode, its changes and its buttons", len(seen))
	}
	browser.Press(kb.Tab, chromedp.KeyModifiers(chromedp.ModifierShift))
	browser.Press(kb.Tab, chromedp.KeyModifiers(chromedp.ModifierShift))
	if where := evalString(t, browser, `String(`+dialog+`.contains(`+active+`))`); where != "true" {
		t.Errorf("Shift+Tab left the dialog")
	}
	browser.Press(kb.Escape)
	browser.WaitFor("Escape closes the dialog, the focus back on its opener", `!`+dialog+`.open && `+active+`?.dataset.testid === 'enforce-mesh'`, a11yState)

	// Every stop of the Tab order, once round the page from the skip link,
	// shows a focus ring (an outline of 2 px at least, as :focus-visible).
	if _, err := e2e.Eval[bool](browser, `(window.a11ySeen = new WeakSet(), document.querySelector('.skip').focus(), true)`); err != nil {
		t.Fatal(err)
	}
	const stop = `(() => { const el = document.activeElement; if (!el || el === document.body) return 'END';
		if (window.a11ySeen.has(el)) return 'AGAIN'; window.a11ySeen.add(el);
		const s = getComputedStyle(el); const ring = el.matches(':focus-visible') && s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2;
		return (ring ? 'ring ' : 'NONE ') + el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + (el.dataset.testid ? '[' + el.dataset.testid + ']' : '') +
			' ' + (el.getAttribute('aria-label') || el.textContent || '').trim().slice(0, 40); })()`
	var stops []string
	for range 250 {
		got := evalString(t, browser, stop)
		if got == "END" || got == "AGAIN" {
			break
		}
		stops = append(stops, got)
		if strings.HasPrefix(got, "NONE ") {
			t.Errorf("no visible focus indicator on %s", strings.TrimPrefix(got, "NONE "))
		}
		browser.Press(kb.Tab)
	}
	if len(stops) < 20 {
		t.Errorf("%d stops in the Tab order: %v", len(stops), stops)
	}
	t.Logf("%d stops in the Tab order", len(stops))
}

func evalString(t *testing.T, b *e2e.Browser, expression string) string {
	t.Helper()
	s, err := e2e.Eval[string](b, expression)
	if err != nil {
		t.Fatalf("%s: %v", expression, err)
	}
	return s
}

func jsString(s string) string { return fmt.Sprintf("%q", s) }
