// JSON answers and the contract's error shape, with client input quoted and truncated in messages.

package web

import (
	"encoding/json"
	"net/http"
	"strconv"
	"unicode/utf8"
)

// writeJSON answers body as JSON with status.
func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// maxErrorMessage caps an error answer: whatever a message quotes, an
// error is never a way to make meshlock send back a large body.
const maxErrorMessage = 1 << 10

// writeError answers the contract's error shape: {"error": "<one clear sentence>"}.
func writeError(w http.ResponseWriter, status int, message string) {
	writeJSON(w, status, map[string]string{"error": truncate(message, maxErrorMessage)})
}

// maxQuotedInput is how much of a client's input an error message quotes.
const maxQuotedInput = 64

// quoteInput quotes what a client sent for an error message, cut to
// maxQuotedInput bytes (and saying so), so that bad input is never echoed
// back in full.
func quoteInput(s string) string {
	if len(s) <= maxQuotedInput {
		return strconv.Quote(s)
	}
	return strconv.Quote(truncate(s, maxQuotedInput)) + " (" + strconv.Itoa(len(s)) + " bytes, cut)"
}

// truncate cuts s to at most n bytes on a rune boundary, ending in "…".
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
