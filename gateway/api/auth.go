package api

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"lienthong/directory"
	"lienthong/gateway/localapi"
)

// tokens maps sha256(token) to the client holding it, so the tokens
// themselves are not kept in memory.
type tokens map[[32]byte]localapi.Caller

// parseTokens reads "client token [scope]" lines; a line with one word is
// a token for a client named after its line. The scope is the agencies the
// client may act for: codes, CODE/* for a code and its units, or *; a line
// without one may act for all.
func parseTokens(text string) (tokens, error) {
	out := tokens{}
	for i, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 0 || strings.HasPrefix(f[0], "#"):
			continue
		case len(f) == 1:
			f = []string{fmt.Sprintf("client-%d", i+1), f[0]}
		case len(f) > 3:
			return nil, fmt.Errorf("api.tokens line %d: want \"client-name token [agencies]\"", i+1)
		}
		if len(f[1]) < 16 {
			return nil, fmt.Errorf("api.tokens line %d: token of client %s is shorter than 16 characters", i+1, f[0])
		}
		c := localapi.Caller{Name: f[0]}
		if len(f) == 3 {
			sc, err := parseScope(f[2])
			if err != nil {
				return nil, fmt.Errorf("api.tokens line %d: client %s: %w", i+1, f[0], err)
			}
			if sc != nil {
				c.Allows = sc.allows
			}
		}
		out[sha256.Sum256([]byte(f[1]))] = c
	}
	if len(out) == 0 {
		return nil, errors.New("api.tokens: no token in the file")
	}
	return out, nil
}

// scope is the agencies a token may act for.
type scope []scopeEntry

type scopeEntry struct {
	code    directory.Code
	subtree bool
}

// parseScope reads a token's scope; nil is every agency.
func parseScope(s string) (scope, error) {
	if s == "*" {
		return nil, nil
	}
	var out scope
	for _, part := range strings.Split(s, ",") {
		code, subtree := strings.CutSuffix(part, "/*")
		c, err := directory.ParseCode(code)
		if err != nil {
			return nil, fmt.Errorf("scope %q: %w", part, err)
		}
		out = append(out, scopeEntry{c, subtree})
	}
	return out, nil
}

// allows reports whether the scope covers an agency.
func (sc scope) allows(code string) bool {
	c, err := directory.ParseCode(code)
	if err != nil {
		return false
	}
	for _, e := range sc {
		if e.code == c || (e.subtree && c.Under(e.code)) {
			return true
		}
	}
	return false
}

type callerKey struct{}

// authenticate admits a request carrying one of the configured tokens.
func (s *server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		c, known := s.tokens[sha256.Sum256([]byte(strings.TrimSpace(tok)))]
		if !ok || !known {
			w.Header().Set("WWW-Authenticate", `Bearer realm="lienthong"`)
			writeError(w, http.StatusUnauthorized, "a valid bearer token is required", nil)
			return
		}
		if sw, ok := w.(*statusWriter); ok {
			sw.client = c.Name // for the log line of a refusal
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), callerKey{}, c)))
	})
}

func callerOf(r *http.Request) localapi.Caller {
	c, _ := r.Context().Value(callerKey{}).(localapi.Caller)
	return c
}
