package api

import (
	"net/http"

	"lienthong/envelope"
)

func (s *server) evidenceCheckpoint(now bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		answer(w, http.StatusOK)(s.g.EvidenceCheckpoint(r.Context(), callerOf(r), now))
	}
}

func (s *server) evidenceVerify(w http.ResponseWriter, r *http.Request) {
	answer(w, http.StatusOK)(s.g.EvidenceVerify(r.Context(), callerOf(r)))
}

// evidenceBundle streams a document's proof bundle as a tar file; an
// error once the stream began cuts it short, which the reader sees.
func (s *server) evidenceBundle(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	doc, rec := q.Get("document"), q.Get("record")
	if (doc == "") == (rec == "") {
		fail(w, envelope.Problems{{Path: "document", Rule: "give document=DOCUMENTID or record=ID, one of them"}})
		return
	}
	write, err := s.g.EvidenceBundle(r.Context(), callerOf(r), doc, rec)
	if err != nil {
		fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-tar")
	w.Header().Set("Content-Disposition", `attachment; filename="evidence.tar"`)
	if err := write(w); err != nil {
		s.log.Error().Err(err).Str("document", doc).Str("record", rec).Msg("evidence bundle cut short")
		panic(http.ErrAbortHandler) // the client must not take a short tar for a whole one
	}
}
