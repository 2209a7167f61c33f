package gateway

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"lienthong/directory"
	"lienthong/envelope"
	"lienthong/gateway/axis"
	"lienthong/queue"
)

// outStore is what the sending side needs of the store.
type outStore interface {
	Put(queue.Item) (*queue.Record, bool, error)
	Get(id string) (*queue.Record, error)
	GetByKey(dir queue.Direction, key string) (*queue.Record, error)
	Lease(now time.Time, dir queue.Direction, minPriority int) (*queue.Record, error)
	NextDue(dir queue.Direction) (time.Time, bool)
	Payload(r *queue.Record) ([]byte, error)
	Done(now time.Time, id string, lease uint64, meta map[string]string) (*queue.Record, error)
	Retry(now time.Time, id string, lease uint64, cause error) (*queue.Record, error)
	Dead(now time.Time, id string, lease uint64, reason string) (*queue.Record, error)
	SetMeta(id string, meta map[string]string) (*queue.Record, error)
	Resend(id, reason string) (*queue.Record, error)
}

// resolver checks recipients against the agency directory.
type resolver interface {
	Resolve(codes []string, now time.Time) (directory.Resolution, error)
}

var (
	_ outStore = (*queue.Store)(nil)
	_ resolver = (*directory.Directory)(nil)
)

// outbound is the sending side: it turns documents and answers into
// signed packages in the store, then sends them by priority (send.go).
type outbound struct {
	log         zerolog.Logger
	clock       Clock
	store       outStore
	axis        axisSender
	dir         resolver
	creds       *atomic.Pointer[credentials]
	m           *metrics
	breaker     *breaker
	wake        *signal
	hook        *webhook
	me          envelope.Organization
	maxDocument int64
}

// Submission is one document handed over by the legacy system.
type Submission struct {
	Meta   *envelope.Metadata
	Files  []envelope.Attachment
	Client string // which client system, for the log
}

// Submit checks, addresses, builds, signs and durably stores a document.
// It returns the stored record; existed is set when the same DocumentId
// was submitted before, in which case nothing new is queued.
func (o *outbound) Submit(s Submission) (rec *queue.Record, existed bool, err error) {
	now := o.clock.Now()
	m := s.Meta
	if m.From != nil && m.From.OrganID != "" && m.From.OrganID != o.me.OrganID {
		return nil, false, envelope.Problems{{Path: "from.organId", Rule: "must be this gateway's own agency " + o.me.OrganID, Value: m.From.OrganID}}
	}
	var size int64
	for _, f := range s.Files {
		size += int64(len(f.Data))
	}
	if size > o.maxDocument {
		return nil, false, fmt.Errorf("%w: %d bytes of files, limit %d", ErrTooLarge, size, o.maxDocument)
	}
	// Every problem is reported at once: the metadata's and the recipients'.
	doc, err := m.Document(o.me, now, s.Files)
	var ps envelope.Problems
	if err != nil && !errors.As(err, &ps) {
		return nil, false, err
	}
	codes := slices.Clone(m.To)
	if err := o.resolve(codes, now); err != nil {
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
		o.m.messages.WithLabelValues("out", "refused").Inc()
		return nil, false, ps
	}
	h := doc.Header
	bt := doc.Business.DocType
	key := outDocumentKey(h.DocumentID)
	if r, err := o.store.GetByKey(queue.Outbound, key); err == nil {
		if readOut(r).Business == bt {
			return r, true, nil
		}
		// A revocation, update or replacement under the DocumentId of
		// the document it is about: a message of its own.
		key += "|" + strconv.Itoa(int(bt))
		if r, err := o.store.GetByKey(queue.Outbound, key); err == nil {
			return r, true, nil
		}
	}
	if err := o.signable(); err != nil {
		return nil, false, err
	}
	rec, existed, err = o.signAndPut(&envelope.Package{Kind: envelope.KindDocument, Document: doc}, key, int(h.OtherInfo.Priority), outRecord{
		Kind: kindDocument, MessageType: axis.MessageEdoc, DocumentID: h.DocumentID, To: codes, Subject: h.Subject,
		Notation: h.Code.CodeNumber + "/" + h.Code.CodeNotation, Title: h.Subject,
		Deadline: dispatchDeadline(dateTime(h.PromulgationInfo.PromulgationDate), now), Client: s.Client,
		Promulgated: h.PromulgationInfo.PromulgationDate, Business: bt,
	})
	if err != nil || existed {
		return rec, existed, err
	}
	o.m.messages.WithLabelValues("out", "accepted").Inc()
	o.log.Info().Str("id", rec.ID).Str("document_id", h.DocumentID).Int("priority", rec.Priority).
		Strs("to", codes).Int64("bytes", rec.Size).Str("client", s.Client).Msg("document accepted")
	return rec, false, nil
}

// precheck refuses a submission on its metadata alone, before its files
// are read: with unknown recipients, every problem of the metadata is told
// at once, as Submit would, without a 100 MiB upload read for nothing.
func (o *outbound) precheck(m *envelope.Metadata) error {
	now := o.clock.Now()
	err := o.resolve(slices.Clone(m.To), now)
	var ps envelope.Problems
	if !errors.As(err, &ps) {
		return err
	}
	if _, derr := m.Document(o.me, now, nil); derr != nil {
		var more envelope.Problems
		errors.As(derr, &more)
		for _, p := range more {
			if !strings.HasPrefix(p.Path, "attachments") && !slices.ContainsFunc(ps, func(q envelope.Problem) bool { return q.Path == p.Path }) {
				ps = append(ps, p)
			}
		}
	}
	o.m.messages.WithLabelValues("out", "refused").Inc()
	return ps
}

// resolve refuses unknown, deleted or malformed recipients by position.
func (o *outbound) resolve(codes []string, now time.Time) error {
	res, err := o.dir.Resolve(codes, now)
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
		o.log.Warn().Dur("age", res.Age).Msg("recipients resolved against a stale directory: check the directory sync")
	}
	return nil
}

// queueStatus builds, signs and stores a status package to one agency. A
// status already queued for the same document, recipient and code is not
// queued twice; 05 (processing) may repeat.
func (o *outbound) queueStatus(to string, rf envelope.ResponseFor, code envelope.StatusCode, desc string, staff *envelope.StaffInfo, prio int) (*queue.Record, error) {
	now := o.clock.Now()
	st := &envelope.Status{From: o.me, ResponseFor: rf, StaffInfo: staff, StatusCode: code, Description: desc, Timestamp: now.In(envelope.Vietnam).Truncate(time.Second)}
	key := outStatusKey(to, rf.DocumentID, string(code))
	if code == envelope.StatusProcessing {
		key += "|" + strconv.FormatInt(now.UnixNano(), 10)
	}
	if r, err := o.store.GetByKey(queue.Outbound, key); err == nil {
		return r, nil
	}
	rec, existed, err := o.signAndPut(&envelope.Package{Kind: envelope.KindStatus, Status: st}, key, prio, outRecord{
		Kind: kindStatus, MessageType: axis.MessageStatus, To: []string{to}, DocumentID: rf.DocumentID,
		StatusCode: string(code), Notation: rf.Code, Title: "Status " + string(code),
	})
	if err != nil {
		return nil, fmt.Errorf("status %s: %w", code, err)
	}
	if !existed {
		o.log.Info().Str("id", rec.ID).Str("to", to).Str("document_id", rf.DocumentID).Str("status", string(code)).Msg("status queued")
	}
	return rec, nil
}

// signAndPut signs a package and stores it for sending: the one path of
// documents and statuses into the outbound queue.
func (o *outbound) signAndPut(p *envelope.Package, key string, prio int, r outRecord) (*queue.Record, bool, error) {
	start := time.Now()
	raw, err := o.creds.Load().signer.SignBytes(p, envelope.BuildOptions{})
	if err != nil {
		return nil, false, fmt.Errorf("sign: %w", err)
	}
	o.m.signDuration.Observe(time.Since(start).Seconds())
	rec, existed, err := o.store.Put(queue.Item{Dir: queue.Outbound, Key: key, Priority: prio, Payload: raw, Meta: r.meta()})
	if err != nil {
		return nil, false, o.storeError(err)
	}
	if !existed {
		o.wake.notify()
	}
	return rec, existed, nil
}

// storeError tells a full disk apart so the API can say 503.
func (o *outbound) storeError(err error) error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return fmt.Errorf("%w: disk full, free space in the state folder: %v", ErrUnavailable, err)
	}
	return err
}

// signable refuses new work the key cannot sign validly now: recipients
// would refuse the package, so the legacy system hears it at once.
func (o *outbound) signable() error {
	cert, now := o.creds.Load().signer.Certificate(), o.clock.Now()
	if now.After(cert.NotAfter) || now.Before(cert.NotBefore) {
		return fmt.Errorf("%w: the signing certificate %q is valid from %s to %s, not now: install a valid one and reload the gateway",
			ErrUnavailable, cert.Subject.CommonName, cert.NotBefore.Format("2006-01-02"), cert.NotAfter.Format("2006-01-02"))
	}
	return nil
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
