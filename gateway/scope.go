package gateway

import (
	"cmp"
	"fmt"
	"net/http"
	"strings"

	"lienthong/directory"
	"lienthong/gateway/localapi"
	"lienthong/queue"
)

// client is a holder of a local API token and the agencies it may act for.
type client struct {
	name  string
	scope []scopeEntry // nil: every agency
}

type scopeEntry struct {
	code    string
	subtree bool
}

func parseScope(s string) ([]scopeEntry, error) {
	if s == "*" {
		return nil, nil
	}
	var out []scopeEntry
	for _, part := range strings.Split(s, ",") {
		e := scopeEntry{}
		e.code, e.subtree = strings.CutSuffix(part, "/*")
		if _, err := directory.ParseCode(e.code); err != nil {
			return nil, fmt.Errorf("scope %q: %w", part, err)
		}
		out = append(out, e)
	}
	return out, nil
}

// allows reports whether the client may act for an agency.
func (c client) allows(code string) bool {
	if c.scope == nil {
		return true
	}
	for _, e := range c.scope {
		if e.code == code || (e.subtree && under(code, e.code)) {
			return true
		}
	}
	return false
}

func clientOf(r *http.Request) client {
	c, _ := r.Context().Value(clientKey{}).(client)
	return c
}

// forbidden is the answer for a record of an agency outside the scope.
func forbidden(c client, code string) error {
	return fmt.Errorf("%w: client %s may act only for its own agencies, not for %s (api.tokens scope)", ErrForbidden, c.name, code)
}

// agencyOfDocument is the agency an outbound record was sent as.
func (g *Gateway) agencyOfDocument(r *queue.Record) string {
	return cmp.Or(readOut(r).From, g.cfg.Agency.Code)
}

// agencyOfItem is the agency an inbox item was delivered to.
func (g *Gateway) agencyOfItem(it *localapi.InboxItem) string {
	return cmp.Or(it.Agency, g.cfg.Agency.Code)
}

// scopedDocument is the outbound record a request names, when the
// client's scope covers the agency it was sent as.
func (g *Gateway) scopedDocument(r *http.Request) (*queue.Record, error) {
	rec, err := g.out.document(r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	if c := clientOf(r); !c.allows(g.agencyOfDocument(rec)) {
		return nil, forbidden(c, g.agencyOfDocument(rec))
	}
	return rec, nil
}

// scopedItem is the inbox item a request names, when the client's scope
// covers the agency it was delivered to.
func (g *Gateway) scopedItem(r *http.Request) (*localapi.InboxItem, error) {
	item, ok := g.inbox.get(r.PathValue("id"))
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, r.PathValue("id"))
	}
	if c := clientOf(r); !c.allows(g.agencyOfItem(item)) {
		return nil, forbidden(c, g.agencyOfItem(item))
	}
	return item, nil
}
