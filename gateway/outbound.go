package gateway

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"lienthong/directory"
	"lienthong/envelope"
	"lienthong/gateway/axis"
	"lienthong/queue"
)

// Errors Submit returns besides envelope.Problems; the local API maps each
// to its HTTP status.
var (
	// ErrTooLarge: the document is over outbound.max_document.
	ErrTooLarge = errors.New("document over the size limit")
	// ErrUnavailable: the store cannot take writes (disk full); nothing
	// was accepted.
	ErrUnavailable = errors.New("cannot store documents now")
)

// Record metadata keys, shared by outbound and inbound records.
const (
	metaKind        = "kind" // document or status
	metaDocumentID  = "documentId"
	metaMessageType = "messageType"
	metaTo          = "to" // comma-separated recipient codes
	metaSubject     = "subject"
	metaNotation    = "notation" // number/notation, as the axis lists it
	metaTitle       = "title"    // the axis's title of the package
	metaDeadline    = "deadline"
	metaAxisDocID   = "axisDocId"
	metaSentAt      = "sentAt"
	metaAmbiguous   = "ambiguous" // the last attempt may have reached the axis
	metaClient      = "client"
	metaRecalled    = "recalled"
	metaStatusCode  = "statusCode"
)

// Submission is one document handed over by the legacy system.
type Submission struct {
	Meta   *envelope.Metadata
	Files  []envelope.Attachment
	Client string // which client system, for the log
}

// Submit checks, addresses, builds, signs and durably stores a document.
// It returns the stored record; existed is set when the same DocumentId
// was submitted before, in which case nothing new is queued.
func (g *Gateway) Submit(s Submission) (rec *queue.Record, existed bool, err error) {
	now := g.clock.Now()
	m := s.Meta
	if m.From != nil && m.From.OrganID != "" && m.From.OrganID != g.me.OrganID {
		return nil, false, envelope.Problems{{Path: "from.organId", Rule: "must be this gateway's own agency " + g.me.OrganID, Value: m.From.OrganID}}
	}
	var size int64
	for _, f := range s.Files {
		size += int64(len(f.Data))
	}
	if size > int64(g.cfg.Outbound.MaxDocument) {
		return nil, false, fmt.Errorf("%w: %d bytes of files, limit %d", ErrTooLarge, size, g.cfg.Outbound.MaxDocument)
	}
	// Every problem is reported at once: the metadata's and the recipients'.
	doc, err := m.Document(g.me, now, s.Files)
	var ps envelope.Problems
	if err != nil && !errors.As(err, &ps) {
		return nil, false, err
	}
	codes := slices.Clone(m.To)
	if err := g.resolve(codes, now); err != nil {
		var more envelope.Problems
		if !errors.As(err, &more) {
			return nil, false, err
		}
		for _, p := range more {
			if !slices.ContainsFunc(ps, func(q envelope.Problem) bool { return q.Path == p.Path }) {
				ps = append(ps, p)
			}
		}
	}
	if len(ps) > 0 {
		g.m.messages.WithLabelValues("out", "refused").Inc()
		return nil, false, ps
	}
	key := "doc:" + doc.Header.DocumentID
	if r, err := g.store.GetByKey(queue.Outbound, key); err == nil {
		return r, true, nil
	}
	if err := g.signable(); err != nil {
		return nil, false, err
	}
	start := time.Now()
	raw, err := g.creds.Load().signer.SignBytes(&envelope.Package{Kind: envelope.KindDocument, Document: doc}, envelope.BuildOptions{})
	if err != nil {
		return nil, false, fmt.Errorf("sign: %w", err)
	}
	g.m.signDuration.Observe(time.Since(start).Seconds())
	h := doc.Header
	rec, existed, err = g.put(queue.Item{
		Dir: queue.Outbound, Key: key, Priority: int(h.OtherInfo.Priority), Payload: raw,
		Meta: map[string]string{
			metaKind: "document", metaMessageType: axis.MessageEdoc, metaDocumentID: h.DocumentID,
			metaTo: strings.Join(codes, ","), metaSubject: h.Subject,
			metaNotation: h.Code.CodeNumber + "/" + h.Code.CodeNotation, metaTitle: h.Subject,
			metaDeadline: dispatchDeadline(dateTime(h.PromulgationInfo.PromulgationDate), now).Format(time.RFC3339),
			metaClient:   s.Client,
		},
	})
	if err != nil || existed {
		return rec, existed, err
	}
	g.m.messages.WithLabelValues("out", "accepted").Inc()
	g.log.Info().Str("id", rec.ID).Str("document_id", h.DocumentID).Int("priority", rec.Priority).
		Strs("to", codes).Int64("bytes", rec.Size).Str("client", s.Client).Msg("document accepted")
	g.wakeOut.notify()
	return rec, false, nil
}

// resolve refuses unknown, deleted or malformed recipients by position.
func (g *Gateway) resolve(codes []string, now time.Time) error {
	res, err := g.dir.Resolve(codes, now)
	var rerrs directory.ResolveErrors
	if errors.As(err, &rerrs) {
		ps := make(envelope.Problems, 0, len(rerrs))
		for _, e := range rerrs {
			ps = append(ps, envelope.Problem{Path: fmt.Sprintf("to[%d]", e.Index), Rule: e.Err.Error(), Value: e.Code})
		}
		return ps
	}
	if err != nil {
		return err
	}
	if res.Stale {
		g.log.Warn().Dur("age", res.Age).Msg("recipients resolved against a stale directory: check the directory sync")
	}
	return nil
}

// put stores an item, telling a full disk apart so the API can say 503.
func (g *Gateway) put(it queue.Item) (*queue.Record, bool, error) {
	rec, existed, err := g.store.Put(it)
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		g.log.Error().Err(err).Str("key", it.Key).Msg("disk full: refusing new work until space returns")
		return nil, false, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return rec, existed, err
}

// sender is one send slot: it leases the most urgent due record at or
// above minPriority and sends it. sends run on hard, which outlives ctx by
// the shutdown grace.
func (g *Gateway) sender(ctx, hard context.Context, minPriority int) {
	for ctx.Err() == nil {
		now := g.clock.Now()
		if ok, wait := g.breaker.allow(now); !ok {
			g.sleep(ctx, wait, nil)
			continue
		}
		woken := g.wakeOut.wait()
		r, err := g.store.Lease(now, queue.Outbound, minPriority)
		if err != nil {
			g.breaker.release()
			if !errors.Is(err, queue.ErrEmpty) {
				g.log.Error().Err(err).Msg("lease outbound")
			}
			g.sleep(ctx, g.idle(queue.Outbound, now), woken)
			continue
		}
		g.send(hard, r)
	}
}

// idle is how long a worker waits for work with none due.
func (g *Gateway) idle(dir queue.Direction, now time.Time) time.Duration {
	const most = time.Minute
	at, ok := g.store.NextDue(dir)
	if !ok {
		return most
	}
	return min(max(at.Sub(now), time.Millisecond), most)
}

// signable refuses new work the key cannot sign validly now: recipients
// would refuse the package, so the legacy system hears it at once.
func (g *Gateway) signable() error {
	cert, now := g.creds.Load().signer.Certificate(), g.clock.Now()
	if now.After(cert.NotAfter) || now.Before(cert.NotBefore) {
		g.log.Error().Time("not_before", cert.NotBefore).Time("not_after", cert.NotAfter).
			Msg("signing certificate not valid now: refusing new documents until it is rotated (systemctl reload)")
		return fmt.Errorf("%w: the signing certificate %q is valid from %s to %s, not now: install a valid one and reload the gateway",
			ErrUnavailable, cert.Subject.CommonName, cert.NotBefore.Format("2006-01-02"), cert.NotAfter.Format("2006-01-02"))
	}
	return nil
}

func (g *Gateway) send(ctx context.Context, r *queue.Record) {
	log := g.log.With().Str("id", r.ID).Str("document_id", r.Meta[metaDocumentID]).Int("attempt", r.Attempts).Logger()
	if r.Meta[metaAmbiguous] != "" {
		docID, found, err := g.reconcile(ctx, r)
		switch {
		case err != nil:
			g.retry(r, err, log)
			return
		case found:
			log.Info().Str("axis_doc_id", docID).Msg("the axis had the package already: not resending")
			g.sent(r, docID, log)
			return
		}
		log.Info().Msg("the axis does not have the package: sending again")
	}
	payload, err := g.store.Payload(r)
	if err != nil {
		g.dead(r, fmt.Sprintf("payload unreadable: %v", err), log)
		return
	}
	var to []string
	if t := r.Meta[metaTo]; t != "" && r.Meta[metaKind] == "status" {
		to = strings.Split(t, ",")
	}
	docID, err := g.axis.SendEdoc(ctx, axis.SendRequest{
		From: g.me.OrganID, MessageType: r.Meta[metaMessageType], To: to,
		Upload: axis.BytesUpload(r.ID+".edxml", payload),
	})
	switch cls := axis.ClassOf(err); {
	case err == nil:
		g.breaker.success()
		g.sent(r, docID, log)
	case cls == axis.Terminal:
		g.breaker.success() // the axis answered
		g.dead(r, err.Error(), log)
	case cls == axis.Ambiguous:
		g.breaker.failure(g.clock.Now())
		g.setMeta(r.ID, map[string]string{metaAmbiguous: "1"})
		g.retry(r, err, log)
	default:
		if g.breaker.failure(g.clock.Now()) {
			log.Warn().Err(err).Msg("axis failing: pausing sends (circuit breaker open)")
		}
		g.retry(r, err, log)
	}
}

// reconcile asks the axis whether an attempt that ended without an answer
// arrived after all, matching the axis's own record of what we sent by
// type, notation, title and a send time after the record was stored.
func (g *Gateway) reconcile(ctx context.Context, r *queue.Record) (docID string, found bool, err error) {
	items, err := g.axis.GetSentEdocList(ctx, r.Meta[metaMessageType], "")
	if err != nil {
		return "", false, fmt.Errorf("reconcile: %w", err)
	}
	g.breaker.success()
	for _, it := range items {
		sent, err := axis.ParseListTime(it.SentTime)
		if err != nil || sent.Before(r.Created.Add(-time.Minute)) {
			continue
		}
		if it.FromCode == g.me.OrganID && it.Notation == r.Meta[metaNotation] && it.Title == r.Meta[metaTitle] {
			return it.SenderDocID, true, nil
		}
	}
	return "", false, nil
}

func (g *Gateway) sent(r *queue.Record, axisDocID string, log zerolog.Logger) {
	now := g.clock.Now()
	done, err := g.store.Done(now, r.ID, r.Lease, map[string]string{
		metaAxisDocID: axisDocID, metaSentAt: now.Format(time.RFC3339Nano), metaAmbiguous: "",
	})
	if err != nil {
		log.Error().Err(err).Msg("sent, but the record could not be closed; it will be reconciled")
		return
	}
	g.m.messages.WithLabelValues("out", "sent").Inc()
	if r.Meta[metaKind] == "status" {
		g.m.statuses.WithLabelValues("out", r.Meta[metaStatusCode]).Inc()
	}
	ev := log.Info()
	if dl, err := time.Parse(time.RFC3339, r.Meta[metaDeadline]); err == nil && now.After(dl) {
		g.m.deadlineMiss.Inc()
		ev = log.Warn().Time("deadline", dl)
	}
	ev.Str("axis_doc_id", axisDocID).Dur("waited", now.Sub(r.Created)).Msg("sent to the axis")
	if r.Meta[metaKind] == "document" {
		g.hook.documentChanged(g.documentView(done))
	}
}

func (g *Gateway) retry(r *queue.Record, cause error, log zerolog.Logger) {
	rec, err := g.store.Retry(g.clock.Now(), r.ID, r.Lease, cause)
	if err != nil {
		log.Error().Err(err).Msg("retry")
		return
	}
	g.m.retries.WithLabelValues("out").Inc()
	if rec.State == queue.Dead {
		g.m.messages.WithLabelValues("out", "dead").Inc()
		log.Error().Err(cause).Msg("gave up after the retry limit: dead letter (resend it with POST /v1/documents/{id}/resend)")
		return
	}
	log.Warn().Err(cause).Time("next_attempt", rec.NextAttempt).Msg("send failed: will retry")
}

func (g *Gateway) dead(r *queue.Record, reason string, log zerolog.Logger) {
	if _, err := g.store.Dead(g.clock.Now(), r.ID, r.Lease, reason); err != nil {
		log.Error().Err(err).Msg("dead")
		return
	}
	g.m.messages.WithLabelValues("out", "dead").Inc()
	log.Error().Str("reason", reason).Msg("the axis refused the package: dead letter")
}

func (g *Gateway) setMeta(id string, m map[string]string) {
	if _, err := g.store.SetMeta(id, m); err != nil {
		g.log.Error().Err(err).Str("id", id).Msg("record metadata")
	}
}

// dispatchDeadline is noon of the first working day after the day the
// document was promulgated (signed): a document must leave on the day it
// is signed, or at the latest the next working morning. Without a date,
// the day it was accepted counts.
func dispatchDeadline(promulgated, accepted time.Time) time.Time {
	day := promulgated
	if day.IsZero() {
		day = accepted
	}
	day = day.In(envelope.Vietnam)
	d := time.Date(day.Year(), day.Month(), day.Day(), 12, 0, 0, 0, envelope.Vietnam).AddDate(0, 0, 1)
	for d.Weekday() == time.Saturday || d.Weekday() == time.Sunday {
		d = d.AddDate(0, 0, 1)
	}
	return d
}

func dateTime(d envelope.Date) time.Time {
	if d.IsZero() {
		return time.Time{}
	}
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, envelope.Vietnam)
}
