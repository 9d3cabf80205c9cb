// Browser test of embedding: a portal on an origin named by --frame-ancestors frames the
// dashboard and the graph renders; a portal on an unlisted origin is refused.

package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/meshlock/meshlock/test/e2e"
)

// portal serves a page on its own loopback origin that frames meshlock.
func portal(t *testing.T, listener net.Listener, frameURL string) string {
	t.Helper()
	server := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, `<!doctype html><title>portal</title><h1>Platform portal</h1>
<iframe id="meshlock" src="%s" width="600" height="700"></iframe>`, frameURL)
	}))
	server.Listener.Close()
	server.Listener = listener
	server.Start()
	t.Cleanup(server.Close)
	return server.URL
}

// A portal whose origin --frame-ancestors names embeds the dashboard, 600
// px wide, and the graph renders in the iframe; a page from an origin not
// listed is refused.
func TestDashboardEmbeddedInPortal(t *testing.T) {
	allowedListener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	otherListener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	allowedOrigin := "http://" + allowedListener.Addr().String()
	base, _, _ := demoDashboard(t, "--refresh=1s", "--frame-ancestors='self' "+allowedOrigin)
	// Served as localhost, meshlock is another site than the portals on 127.0.0.1.
	meshlockURL := strings.Replace(base, "127.0.0.1", "localhost", 1) + "/"
	frameURL := meshlockURL + "?embed=1&namespace=default"
	allowedPortal := portal(t, allowedListener, frameURL)
	otherPortal := portal(t, otherListener, frameURL)

	browser := e2e.StartBrowser(t, 1280, 900, e2e.InProcessFrames...)
	browser.Open(allowedPortal)
	padlocks := 0
	deadline := time.Now().Add(20 * time.Second)
	for padlocks == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the dashboard did not render inside the allowed portal's iframe (%v)", err)
		}
		time.Sleep(250 * time.Millisecond)
		padlocks, err = browser.FrameCount(`body[data-embed=true] [data-testid=padlock]`)
	}
	// embed=1 drops the page chrome (the title bar) and keeps the graph.
	if titles, err := browser.FrameCount(`[data-testid=page-title]`); err != nil || titles != 0 {
		t.Errorf("the embedded page shows its title bar (%d, %v)", titles, err)
	}

	browser.Open(otherPortal)
	time.Sleep(3 * time.Second) // as long as the allowed portal needed, and more
	if refused, err := browser.FrameCount(`[data-testid=graph]`); err != nil || refused != 0 {
		t.Errorf("a portal whose origin is not in --frame-ancestors framed the dashboard: %d graphs (%v)", refused, err)
	}
}
