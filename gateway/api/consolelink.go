package api

import (
	"encoding/json"
	"io"
	"net/http"

	"lienthong/envelope"
	"lienthong/gateway/api/console"
	"lienthong/gateway/localapi"
)

// consoleLink answers POST /v1/console/link: a one-time link to a page
// of the console, for the token's client and with its scope.
func (s *server) consoleLink(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Path string `json:"path"`
	}
	if b, _ := io.ReadAll(io.LimitReader(r.Body, 4096)); len(b) > 0 {
		if err := json.Unmarshal(b, &req); err != nil {
			fail(w, envelope.Problems{{Path: "body", Rule: "is not a JSON object with a path: " + err.Error()}})
			return
		}
	}
	path, err := s.console.Link(callerOf(r), req.Path)
	if err != nil {
		fail(w, envelope.Problems{{Path: "path", Rule: "must be a page of the console, under /ui/", Value: req.Path}})
		return
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	writeJSON(w, http.StatusCreated, localapi.ConsoleLink{URL: scheme + "://" + r.Host + path, Expires: s.g.Now().Add(console.LinkLife).UTC()})
}
