// HTML message pages: an error or sign-in explanation answered on the page route instead of the dashboard.

package web

import (
	"bytes"
	"net/http"
)

// messageView is what messagePage shows.
type messageView struct {
	TestID string // "sign-in" or "page-error"
	Title  string
	Text   string
	SignIn bool // explain how to send a token
}

// writeHTMLMessage answers the page route with messagePage (HEAD: the
// same status, no body).
func writeHTMLMessage(w http.ResponseWriter, r *http.Request, status int, title, text string) {
	writeMessagePage(w, r, status, messageView{TestID: "page-error", Title: title, Text: text})
}

func writeMessagePage(w http.ResponseWriter, r *http.Request, status int, m messageView) {
	var buf bytes.Buffer
	if err := messagePage(m).Render(r.Context(), &buf); err != nil {
		writeError(w, http.StatusInternalServerError, "the page could not be rendered")
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "text/html; charset=utf-8")
	hdr.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
}

// pageAuthFailure answers GET / without a valid token: a sign-in
// explanation (401), never data; 503 when the token could not be checked.
func pageAuthFailure(w http.ResponseWriter, r *http.Request, status int, _ string) {
	if status == http.StatusTooManyRequests {
		// Too many unknown tokens from this address (issue 27): Kubernetes was not asked.
		writeHTMLMessage(w, r, status, "Too many sign-in attempts",
			"Too many tokens meshlock did not know came from your address. Wait a few seconds and reload the page.")
		return
	}
	if status != http.StatusUnauthorized {
		writeHTMLMessage(w, r, status, "meshlock cannot check your token right now",
			"Kubernetes could not be asked whether the token is valid. Reload the page in a moment.")
		return
	}
	text := "No Kubernetes token came with this request."
	if _, err := bearerToken(r); err == nil {
		text = "Kubernetes did not accept the token that came with this request: it may have expired or been revoked."
	}
	writeMessagePage(w, r, status, messageView{TestID: "sign-in", Title: "Sign in to see the mesh", Text: text, SignIn: true})
}
