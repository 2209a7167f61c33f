package gateway

import (
	"bufio"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
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
	"lienthong/gateway/timeliness"
	"lienthong/queue"
)

// resolver checks recipients against the agency directory.
type resolver interface {
	Resolve(codes []string, now time.Time) (directory.Resolution, error)
	// NotePartner marks an agency we exchange with, whose deletion or
	// re-parenting in the directory is then held for an operator.
	NotePartner(code string)
}

var (
	_ resolver = (*directory.Directory)(nil)
)

// outbound is the sending side: it turns documents and answers into
// signed packages in the store, then sends them by priority (outbound_send.go).
type outbound struct {
	log         zerolog.Logger
	clock       Clock
	store       queue.Store
	axes        *links
	dir         resolver
	dirLookup   senders // names of the units served
	creds       *atomic.Pointer[credentials]
	m           *metrics
	wake        *signal
	hook        *webhook
	me          envelope.Organization
	maxDocument int64
	retryPolicy retryPolicy
	scratch     string // a folder for files read and dropped
	cal         *timeliness.Calendar
	// retired are withdrawn agency codes; followSuccessor sends to a
	// known successor instead of refusing.
	retired         *directory.Retired
	followSuccessor bool
}

// Submission is one document handed over by the legacy system.
type Submission struct {
	Meta   *envelope.Metadata
	Files  []envelope.Attachment
	Client string // which client system, for the log
	// Allowed says which agencies the client may send as; nil allows all.
	Allowed func(code string) bool
}

// Submit checks, addresses, builds, signs and durably stores a document.
// It returns the stored record; existed is set when the same DocumentId
// was submitted before, in which case nothing new is queued.
func (o *outbound) Submit(s Submission) (rec *queue.Record, existed bool, err error) {
	now := o.clock.Now()
	m := s.Meta
	cr := o.creds.Load()
	me := o.me
	if m.From != nil && m.From.OrganID != "" {
		org, ok := cr.agencies.serves(m.From.OrganID, o.dirLookup)
		if !ok {
			return nil, false, envelope.Problems{{Path: "from.organId", Rule: "is not an agency this gateway serves (agency, agencies)", Value: m.From.OrganID}}
		}
		me = mergeOrg(org, m.From)
	}
	if s.Allowed != nil && !s.Allowed(me.OrganID) {
		return nil, false, fmt.Errorf("%w: this client may not send as %s", ErrForbidden, me.OrganID)
	}
	var size int64
	for _, f := range s.Files {
		size += f.Size()
	}
	if size > o.maxDocument {
		return nil, false, fmt.Errorf("%w: %d bytes of files, limit %d", ErrTooLarge, size, o.maxDocument)
	}
	// Every problem is reported at once: the metadata's and the recipients'.
	to, moved, retired := o.retire(m.To)
	m.To = to
	doc, err := m.Document(me, now, s.Files)
	var ps envelope.Problems
	if err != nil && !errors.As(err, &ps) {
		return nil, false, err
	}
	ps = append(retired, ps...)
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
	// Only a submission that may be stored is hashed: the metadata as the
	// client sent it (Document fills nothing in) and the files.
	content, err := fingerprint(m, s.Files)
	if err != nil {
		return nil, false, err
	}
	h := doc.Header
	bt := doc.Business.DocType
	key := outDocumentKey(h.DocumentID)
	if r, err := queue.GetByKey(context.Background(), o.store, queue.Outbound, key); err == nil {
		if readOut(r).Business == bt {
			return sameContent(r, content)
		}
		// A revocation, update or replacement under the DocumentId of
		// the document it is about: a message of its own.
		key += "|" + strconv.Itoa(int(bt))
		if r, err := queue.GetByKey(context.Background(), o.store, queue.Outbound, key); err == nil {
			return sameContent(r, content)
		}
	}
	if err := o.signable(me.OrganID); err != nil {
		return nil, false, err
	}
	rec, existed, err = o.signAndPut(&envelope.Package{Kind: envelope.KindDocument, Document: doc}, key, int(h.OtherInfo.Priority), nil, outRecord{
		From: o.recordFrom(me.OrganID), Kind: kindDocument, MessageType: axis.MessageEdoc, DocumentID: h.DocumentID, To: codes, Subject: h.Subject,
		Notation: h.Code.CodeNumber + "/" + h.Code.CodeNotation, Title: h.Subject,
		Deadline: o.dispatchDeadline(dateTime(h.PromulgationInfo.PromulgationDate), now), Client: s.Client,
		Promulgated: h.PromulgationInfo.PromulgationDate, Business: bt, Content: content,
	})
	if err != nil {
		return nil, false, err
	}
	if existed { // submitted at the same moment by another caller
		return sameContent(rec, content)
	}
	o.log.Info().Str("id", rec.ID).Str("document_id", h.DocumentID).Int("priority", rec.Priority).
		Strs("to", codes).Int64("bytes", rec.Size).Str("client", s.Client).Msg("document accepted")
	o.followed(rec, moved)
	return rec, false, nil
}

// retire checks recipients against the retired codes: a retired one is a
// problem naming its successor, or, with outbound.follow_successor and a
// successor known, is replaced by it. moved pairs each code replaced with
// its successor.
func (o *outbound) retire(codes []string) (to []string, moved [][2]string, ps envelope.Problems) {
	to = slices.Clone(codes)
	for i, c := range codes {
		x, ok := o.retired.Of(c)
		switch {
		case !ok:
		case o.followSuccessor && x.Successor != "":
			to[i] = string(x.Successor)
			moved = append(moved, [2]string{c, to[i]})
		default:
			rule := x.Why()
			if x.Successor != "" {
				rule += ": send to it, or set outbound.follow_successor"
			}
			ps = append(ps, envelope.Problem{Path: fmt.Sprintf("to[%d]", i), Rule: rule, Value: c})
		}
	}
	return to, moved, ps
}

// followed tells, in the record's history and the log, that a document
// went to the successors of retired codes.
func (o *outbound) followed(rec *queue.Record, moved [][2]string) {
	if len(moved) == 0 {
		return
	}
	now := o.clock.Now()
	err := o.store.Update(context.Background(), func(tx queue.Tx) error {
		for _, m := range moved {
			tx.Emit(event(rec.ID, evSuccessor, m[1], now, atReason, fmt.Sprintf("%s is a retired code: sent to its successor %s", m[0], m[1])))
		}
		return nil
	})
	for _, m := range moved {
		o.log.Warn().AnErr("history", err).Str("id", rec.ID).Str("retired", m[0]).Str("successor", m[1]).
			Msg("a recipient's code was retired: the document goes to its successor (outbound.follow_successor)")
	}
}

// fingerprint is what makes two submissions one document: the metadata
// as the client sent it and each file's name and bytes. Files are hashed
// as they are read, never held whole.
func fingerprint(m *envelope.Metadata, files []envelope.Attachment) (string, error) {
	h := sha256.New()
	if err := json.NewEncoder(h).Encode(m); err != nil {
		return "", err
	}
	for _, f := range files {
		fmt.Fprintf(h, "\x00%s\x00", f.Name)
		if f.Path == "" {
			h.Write(f.Data)
			continue
		}
		fh, err := os.Open(f.Path)
		if err != nil {
			return "", err
		}
		_, err = io.Copy(h, fh)
		fh.Close()
		if err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// sameContent answers a submission under a DocumentId held already: the
// record, when it was submitted with the same content (a retry); a
// conflict naming it otherwise, so a different document is never lost
// behind a number used twice.
func sameContent(r *queue.Record, content string) (*queue.Record, bool, error) {
	if was := readOut(r).Content; was != "" && was != content {
		return nil, false, fmt.Errorf("%w: DocumentId %s was submitted before as %s with other content (metadata or files); "+
			"a new document needs its own number (codeNumber) or documentId", ErrConflict, readOut(r).DocumentID, r.ID)
	}
	return r, true, nil
}

// precheck refuses a submission on its metadata alone, before its files
// are read: with unknown recipients, every problem of the metadata is told
// at once, as Submit would, without a 100 MiB upload read for nothing.
func (o *outbound) precheck(m *envelope.Metadata) error {
	now := o.clock.Now()
	to, _, retired := o.retire(m.To)
	err := o.resolve(to, now)
	var ps envelope.Problems
	if err != nil && !errors.As(err, &ps) {
		return err
	}
	ps = append(retired, ps...)
	if len(ps) == 0 {
		return nil
	}
	me := o.me
	if m.From != nil && m.From.OrganID != "" {
		me.OrganID = m.From.OrganID
	}
	if _, derr := m.Document(me, now, nil); derr != nil {
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
	for _, c := range codes {
		o.dir.NotePartner(c)
	}
	return nil
}

// queueStatus builds, signs and stores a status package to one agency. A
// status already queued for the same document, recipient and code is not
// queued twice; 05 (processing) may repeat.
//
// ab is the record the status concerns, changed in the commit that
// queues it and told when the status is sent; nil when there is none.
func (o *outbound) queueStatus(from, to string, rf envelope.ResponseFor, code envelope.StatusCode, desc string, staff *envelope.StaffInfo, prio int, ab *about) (*queue.Record, error) {
	now := o.clock.Now()
	me := o.me
	if from != "" && from != o.me.OrganID {
		org, ok := o.creds.Load().agencies.serves(from, o.dirLookup)
		if !ok {
			return nil, fmt.Errorf("status from %s: %w", from, errNotServed)
		}
		me = org
	}
	st := &envelope.Status{From: me, ResponseFor: rf, StaffInfo: staff, StatusCode: code, Description: desc, Timestamp: now.In(envelope.Vietnam).Truncate(time.Second)}
	key := outStatusKey(to, rf.DocumentID, string(code))
	if me.OrganID != o.me.OrganID {
		key += "|from:" + me.OrganID
	}
	if code == envelope.StatusProcessing {
		key += "|" + strconv.FormatInt(now.UnixNano(), 10)
	}
	out := outRecord{
		From: o.recordFrom(me.OrganID), Kind: kindStatus, MessageType: axis.MessageStatus, To: []string{to}, DocumentID: rf.DocumentID,
		StatusCode: string(code), Notation: rf.Code, Title: "Status " + string(code),
	}
	if ab != nil {
		out.About = ab.id
	}
	rec, existed, err := o.signAndPut(&envelope.Package{Kind: envelope.KindStatus, Status: st}, key, prio, ab, out)
	if err != nil {
		return nil, fmt.Errorf("status %s: %w", code, err)
	}
	if !existed {
		o.log.Info().Str("id", rec.ID).Str("to", to).Str("document_id", rf.DocumentID).Str("status", string(code)).Msg("status queued")
	}
	return rec, nil
}

// about is another record a package concerns, changed in the commit that
// stores the package: the document a recall or revocation is about, the
// inbox record an answer is about.
type about struct {
	id string
	// meta, made from the new record's id, is merged into it; nil for none.
	meta func(newID string) map[string]string
	// kind is the event it gets at once ("" for none); an answer's is
	// told when the status is sent.
	kind      string
	recipient string
	attrs     []string
}

// signAndPut signs a package and stores it for sending: the one path of
// documents and statuses into the outbound queue.
func (o *outbound) signAndPut(p *envelope.Package, key string, prio int, ab *about, r outRecord) (*queue.Record, bool, error) {
	signer, err := o.creds.Load().signerFor(cmp.Or(r.From, o.me.OrganID))
	if err != nil {
		return nil, false, err
	}
	it := queue.Item{Dir: queue.Outbound, Key: key, Priority: prio, Group: cmp.Or(r.From, o.me.OrganID), Meta: r.meta()}
	start := time.Now()
	if large(p) {
		// Signed into a payload the store takes over: a 100 MiB scan
		// is never held whole.
		body, err := o.store.NewPayload(context.Background())
		if err != nil {
			return nil, false, o.storeError(err)
		}
		bw := bufio.NewWriterSize(body, 256<<10)
		err = signer.Sign(bw, p, envelope.BuildOptions{})
		if err == nil {
			err = bw.Flush()
		}
		if err != nil {
			body.Abort()
			return nil, false, fmt.Errorf("sign: %w", o.storeError(err))
		}
		it.Body = body
	} else if it.Payload, err = signer.SignBytes(p, envelope.BuildOptions{}); err != nil {
		return nil, false, fmt.Errorf("sign: %w", err)
	}
	signed := time.Since(start)
	o.m.signDuration.Observe(signed.Seconds())
	release, err := o.store.Stage(context.Background(), &it)
	if err != nil {
		return nil, false, o.storeError(err)
	}
	defer release()
	var rec *queue.Record
	var existed bool
	now := o.clock.Now()
	err = o.store.Update(context.Background(), func(tx queue.Tx) (err error) {
		if rec, existed, err = tx.Put(it); err != nil {
			return err
		}
		if !existed {
			to := strings.Join(r.To, ",")
			tx.Emit(event(rec.ID, evAccepted, "", now, atClient, r.Client, atDocumentID, r.DocumentID, atCode, r.StatusCode, "to", to))
			tx.Emit(event(rec.ID, evSigned, "", now, atSHA256, rec.SHA256, atSize, itoa(rec.Size), "took", signed.String()))
		}
		return o.concern(tx, ab, rec.ID, now, !existed)
	})
	if err != nil {
		return nil, false, o.storeError(err)
	}
	if !existed {
		o.wake.notify()
	}
	return rec, existed, nil
}

// mergeAbout merges meta into the record id names; the time an answer
// was first given (answeredKey) is kept when it is given again.
func mergeAbout(tx queue.Tx, id string, meta map[string]string) error {
	_, err := tx.Change(id, func(r *queue.Record) error {
		if r.Meta == nil {
			r.Meta = map[string]string{}
		}
		for k, v := range meta {
			if _, first := r.Meta[k]; first && strings.HasPrefix(k, answeredPrefix) {
				continue
			}
			r.Meta[k] = v
		}
		return nil
	})
	return err
}

// concern applies ab to the record it names, in tx, for the package
// stored as id; its event only when the package is new.
func (o *outbound) concern(tx queue.Tx, ab *about, id string, now time.Time, fresh bool) error {
	if ab == nil {
		return nil
	}
	if ab.meta != nil {
		if err := mergeAbout(tx, ab.id, ab.meta(id)); err != nil {
			return err
		}
	}
	if fresh && ab.kind != "" {
		tx.Emit(event(ab.id, ab.kind, ab.recipient, now, append([]string{atLink, id}, ab.attrs...)...))
	}
	return nil
}

// large reports a package worth building into a file rather than memory.
func large(p *envelope.Package) bool {
	if p.Document == nil {
		return false
	}
	var n int64
	for _, a := range p.Document.Attachments {
		if a.Path != "" {
			return true
		}
		n += a.Size()
	}
	return n >= 1<<20
}

// storeError tells a full disk apart so the API can say 503.
func (o *outbound) storeError(err error) error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return fmt.Errorf("%w: disk full, free space in the state folder: %v", ErrUnavailable, err)
	}
	return edge(err)
}

// signable refuses new work an agency's key cannot sign validly now:
// recipients would refuse the package, so the legacy system hears it at
// once. One agency's missing or expired key stops that agency only.
func (o *outbound) signable(code string) error {
	code = cmp.Or(code, o.me.OrganID)
	s, err := o.creds.Load().signerFor(code)
	if err != nil {
		return err
	}
	return validNow(s, code, o.clock.Now())
}

// recordFrom is the agency a record names: none for the primary agency,
// as records of one-agency versions were written.
func (o *outbound) recordFrom(code string) string {
	if code == o.me.OrganID {
		return ""
	}
	return code
}

// mergeOrg is an agency as the metadata describes it, on what the
// configuration knows.
func mergeOrg(known envelope.Organization, m *envelope.MetaOrganization) envelope.Organization {
	o := m.Organization()
	o.OrganID = known.OrganID
	if o.OrganName == "" {
		o.OrganName = known.OrganName
	}
	if o.Email == "" {
		o.Email = known.Email
	}
	if o.Telephone == "" {
		o.Telephone = known.Telephone
	}
	return o
}

// dispatchDeadline is when a document must have left: noon of the first
// working day after the day it was promulgated (signed), or without a
// date, after the day it was accepted.
func (o *outbound) dispatchDeadline(promulgated, accepted time.Time) time.Time {
	if promulgated.IsZero() {
		promulgated = accepted
	}
	return o.cal.DispatchDeadline(promulgated)
}

func dateTime(d envelope.Date) time.Time {
	if d.IsZero() {
		return time.Time{}
	}
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, envelope.Vietnam)
}
