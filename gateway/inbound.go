package gateway

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"lienthong/directory"
	"lienthong/envelope"
	"lienthong/gateway/axis"
	"lienthong/queue"
)

// axisReceiver is what the receiving side needs of the axis.
type axisReceiver interface {
	GetReceivedEdocList(ctx context.Context, messageType string) ([]axis.ReceivedItem, error)
	GetEdocTo(ctx context.Context, docID string, w io.Writer) (int64, error)
	UpdateStatus(ctx context.Context, docID, status string) error
}

// senders tells known agencies from unknown ones.
type senders interface {
	Len() int
	Lookup(code string) (directory.Entry, bool)
	NotePartner(code string)
}

// answerer queues the status packages the receiving side sends back.
type answerer interface {
	queueStatus(from, to string, rf envelope.ResponseFor, code envelope.StatusCode, desc string, staff *envelope.StaffInfo, prio int, ab *about) (*queue.Record, error)
	signable(code string) error
}

var (
	_ axisReceiver = (*axis.Client)(nil)
	_ senders      = (*directory.Directory)(nil)
	_ answerer     = (*outbound)(nil)
)

// inbound is the receiving side: it polls and fetches packages from the
// axis, then verifies and delivers them to the inbox (inbound_receive.go) and
// applies the statuses about our documents (inbound_status.go).
type inbound struct {
	log     zerolog.Logger
	clock   Clock
	store   queue.Store
	axes    *links
	dir     senders
	creds   *atomic.Pointer[credentials]
	m       *metrics
	wake    *signal
	hook    *webhook
	inbox   *inbox
	answers answerer
	me      envelope.Organization

	uploaders     map[string][]string // trust.uploaders
	retryPolicy   retryPolicy
	pollInterval  time.Duration
	retired       *directory.Retired // a sender's withdrawn code is flagged
	autoArrived   bool               // answer 01 on delivery
	refuseInvalid bool               // answer 02 on quarantine

	// links is held while an item that changes others, or that others
	// may have changed before it arrived, is linked and made visible.
	links sync.Mutex

	// fetches holds the listed packages that could not be fetched, each
	// with its own backoff, so one never holds back the ones behind it;
	// fetchMu guards it, which the API reads and re-fetches by.
	fetchMu sync.Mutex
	fetches map[string]*fetchState
}

// fetchState is one listed package's failed fetches, keyed by its scoped
// DocId.
type fetchState struct {
	link     *link
	item     axis.ReceivedItem
	mt       string // message type it was listed under
	since    time.Time
	lastErr  string
	failures int
	next     time.Time
	setAside bool
}

// A listed package that fails this many fetches in a row, or fails in a
// way a retry cannot fix, is set aside until the next start.
const maxFetchFailures = 8

// poller lists what the axis holds for us, fetches it and acknowledges
// it once stored. It polls again at once while lists keep coming back
// non-empty, and every poll interval otherwise. Each link has its own.
func (in *inbound) poller(ctx context.Context, l *link) {
	log := in.log.With().Str("axis", l.id).Logger()
	for ctx.Err() == nil {
		if ok, wait := l.breaker.allow(in.clock.Now()); !ok {
			sleep(ctx, in.clock, wait, nil)
			continue
		}
		n, err := in.pollOnce(ctx, l)
		wait := in.pollInterval
		switch {
		case err != nil && ctx.Err() == nil:
			if axis.ClassOf(err) == axis.Terminal {
				l.breaker.success()
			} else if l.breaker.failure(in.clock.Now()) {
				log.Warn().Err(err).Msg("axis failing: pausing polls (circuit breaker open)")
			}
			log.Warn().Err(err).Msg("poll the axis")
		case err == nil:
			l.breaker.success()
			if n > 0 {
				wait = 0
			}
		default:
			l.breaker.release()
		}
		if wait > 0 {
			sleep(ctx, in.clock, wait, nil)
		}
	}
}

// fetchers is how many listed packages are fetched at once: their puts
// share the store's commits and their acknowledgements the hub's, instead
// of one round trip and one flush after another.
const fetchers = 2

// pollOnce fetches every listed package of both message types and
// returns how many it stored. A package that fails waits on its own
// backoff while the others go on; the poll then reports the last such
// failure, so a failing axis still opens the breaker.
func (in *inbound) pollOnce(ctx context.Context, l *link) (int, error) {
	n := 0
	var failed error
	type result struct {
		it     axis.ReceivedItem
		stored bool
		err    error
	}
	for _, mt := range []string{axis.MessageEdoc, axis.MessageStatus} {
		listed := in.clock.Now()
		items, err := l.in().GetReceivedEdocList(ctx, mt)
		if err != nil {
			return n, err
		}
		results := make(chan result, len(items))
		slots := make(chan struct{}, fetchers)
		started := 0
		for _, it := range items {
			if ctx.Err() != nil {
				break
			}
			if in.waiting(l.scoped(it.DocID)) {
				continue
			}
			slots <- struct{}{}
			started++
			go func() {
				defer func() { <-slots }()
				stored, err := in.fetch(ctx, l, mt, it, listed)
				results <- result{it, stored, err}
			}()
		}
		for range started {
			r := <-results
			if r.err != nil {
				if ctx.Err() == nil && in.fetchFailed(ctx, l, mt, r.it, r.err) {
					failed = r.err
				}
				continue
			}
			in.fetchMu.Lock()
			delete(in.fetches, l.scoped(r.it.DocID))
			in.fetchMu.Unlock()
			if r.stored {
				n++
			}
		}
		if ctx.Err() != nil {
			return n, ctx.Err()
		}
	}
	return n, failed
}

// waiting reports whether a listed package is backing off or set aside.
func (in *inbound) waiting(docID string) bool {
	in.fetchMu.Lock()
	defer in.fetchMu.Unlock()
	st := in.fetches[docID]
	return st != nil && (st.setAside || in.clock.Now().Before(st.next))
}

// fetchFailed backs one listed package off, or sets it aside when it can
// never be fetched, telling the axis where the protocol allows. It reports
// whether the failure says the axis itself is failing.
func (in *inbound) fetchFailed(ctx context.Context, l *link, mt string, it axis.ReceivedItem, err error) bool {
	aside, axisFailing := in.noteFailure(l, mt, it, err)
	if aside {
		// Told outside the lock: the API reads the states meanwhile.
		ack := axis.Acknowledge(ctx, l.in(), it.DocID, axis.StatusFail, err.Error())
		in.log.Error().Err(err).AnErr("report_fail", ack).Str("axis_doc_id", it.DocID).Str("from", it.From).
			Msg("package set aside until the next start or a re-fetch (lienthong inbound refetch): it cannot be fetched; the others go on (reported to the axis as failed)")
	}
	return axisFailing
}

// noteFailure counts a failed fetch: whether the package is now set aside,
// and whether the failure says the axis itself is failing.
func (in *inbound) noteFailure(l *link, mt string, it axis.ReceivedItem, err error) (aside, axisFailing bool) {
	in.fetchMu.Lock()
	defer in.fetchMu.Unlock()
	if in.fetches == nil {
		in.fetches = map[string]*fetchState{}
	}
	st := in.fetches[l.scoped(it.DocID)]
	if st == nil {
		st = &fetchState{link: l, item: it, mt: mt, since: in.clock.Now()}
		in.fetches[l.scoped(it.DocID)] = st
	}
	st.lastErr = err.Error()
	if errors.Is(err, errLocal) {
		// Our disk, not the package: it waits, uncounted, and the
		// sender never hears of it.
		st.next = in.clock.Now().Add(localRetry)
		in.log.Error().Err(err).Str("axis_doc_id", it.DocID).Str("retry_in", localRetry.String()).
			Msg("package not fetched: a local fault (free space in the state folder, or the store out of reach); it will be fetched once that is fixed")
		return false, false
	}
	st.failures++
	terminal := axis.ClassOf(err) == axis.Terminal
	if terminal || st.failures >= maxFetchFailures {
		st.setAside = true
		in.m.messages.WithLabelValues("in", "unfetchable").Inc()
		return true, !terminal
	}
	wait := min(time.Duration(1<<min(st.failures, 10))*time.Second, 10*time.Minute)
	st.next = in.clock.Now().Add(wait)
	in.log.Warn().Err(err).Str("axis_doc_id", it.DocID).Str("from", it.From).Int("failures", st.failures).Str("retry_in", wait.String()).
		Msg("package not fetched: will try it again; the others go on")
	return false, !terminal
}

// fetch stores one listed package and then acknowledges it: durable
// before acknowledged. A package already stored (the acknowledgement was
// lost) is only acknowledged again.
//
// On a shared store the nodes list the same packages: one fetches a
// package at a time (a lock); a package another node stored or
// acknowledged since this list was taken is left alone, so each is
// downloaded and acknowledged once. One listed again later (the axis
// delivers it once more) is acknowledged again.
//
// A status package, small and quick to verify, is verified as fetched:
// one that applies cleanly is stored done, with its status applied, in one
// commit. Any other is stored leased to the fetcher, which processes it
// after the acknowledgement (a receiver takes it up should the fetcher
// stop); a document goes to the receivers.
func (in *inbound) fetch(ctx context.Context, l *link, mt string, it axis.ReceivedItem, listed time.Time) (bool, error) {
	key := fetchedKey(l.scoped(it.DocID))
	log := in.log.With().Str("axis_doc_id", it.DocID).Str("message_type", mt).Str("axis", l.id).Logger()
	lk, shared := in.store.(queue.Locker)
	if shared {
		unlock, ok, err := lk.TryLock(ctx, key)
		if err != nil {
			return false, localFault(fmt.Errorf("lock %s in the store: %w", it.DocID, err))
		}
		if !ok {
			return false, nil // another node is fetching it
		}
		defer unlock()
	}
	had, err := queue.GetByKey(context.Background(), in.store, queue.Inbound, key)
	if err == nil && (had.Created.After(listed) || ackedAfter(had, listed)) {
		return false, nil // stored, and acknowledged, by another node since the list
	}
	stored := false
	var mine *queue.Record
	held := had // the record of the package, once stored
	switch {
	case errors.Is(err, queue.ErrNotFound):
		// Fetched into a payload the store takes over: a package of any
		// size is never held whole on its way in.
		body, err := in.download(ctx, l, it.DocID)
		if err != nil {
			return false, err
		}
		size := body.Size()
		status := mt == axis.MessageStatus && size <= maxFetcherApplies
		// The header alone orders the queue: urgent packages are verified first.
		item := queue.Item{
			Dir: queue.Inbound, Key: key, Body: body,
			Priority: int(envelope.PeekPriority(bufio.NewReader(io.NewSectionReader(body, 0, size)))),
			Meta:     inRecord{AxisDocID: it.DocID, Axis: l.foreign(), MessageType: mt, From: it.From, AxisTime: it.Created}.meta(),
		}
		var fa *fetchedStatus
		if status {
			fa = in.applyFetched(&item)
		}
		release, err := in.store.Stage(context.Background(), &item)
		if err != nil {
			return false, localFault(fmt.Errorf("store %s: %w", it.DocID, err))
		}
		var rec *queue.Record
		var existed bool
		now := in.clock.Now()
		// Not ctx: what was downloaded is kept even as the fetcher stops.
		err = in.store.Update(context.Background(), func(tx queue.Tx) (err error) {
			if rec, existed, err = tx.Put(item); err != nil || existed {
				return err
			}
			tx.Emit(event(rec.ID, evFetched, it.From, now, atAxisDocID, it.DocID, atSHA256, rec.SHA256, atSize, itoa(rec.Size)))
			if !status {
				return nil
			}
			// A status is the fetcher's own: done at once when it
			// applies, else leased to it, to process after the
			// acknowledgement.
			if rec, err = tx.LeaseRecord(now, rec.ID); err != nil || fa == nil {
				return err
			}
			if rec, err = tx.Finish(now, rec.ID, rec.Lease, statusDone(fa.st).meta()); err != nil {
				return err
			}
			if fa.out, fa.applied, err = applyStatus(tx, fa.out.ID, fa.st, rec.ID, now); err != nil {
				return err
			}
			tx.Emit(event(rec.ID, evStatus, fa.st.From.OrganID, now, atDirection, "in", atCode, string(fa.st.StatusCode), atLink, fa.out.ID,
				atSHA256, rec.SHA256, atAxisDocID, it.DocID, atDocumentID, fa.st.ResponseFor.DocumentID))
			return nil
		})
		release()
		if err != nil {
			return false, localFault(fmt.Errorf("store %s: %w", it.DocID, err))
		}
		stored, held = !existed, rec
		log.Info().Str("id", rec.ID).Str("from", it.From).Int64("bytes", size).Msg("package fetched and stored")
		switch {
		case stored && fa != nil:
			in.statusApplied(fa.st, fa.out, fa.applied,
				log.With().Str("status", string(fa.st.StatusCode)).Str("from", fa.st.From.OrganID).Str("document_id", fa.st.ResponseFor.DocumentID).Logger())
		case stored && rec.State == queue.Leased:
			mine = rec
		default:
			in.wake.notify()
		}
	case err != nil:
		return false, err
	}
	if !stored && had != nil {
		// Listed again though held: acknowledged again, never left
		// listed, and counted.
		in.m.relisted.WithLabelValues(l.axis).Inc()
	}
	err = l.in().UpdateStatus(ctx, it.DocID, axis.StatusDone)
	if err == nil && shared {
		if _, err := queue.SetMeta(context.Background(), in.store, held.ID, map[string]string{metaAcked: in.clock.Now().UTC().Format(time.RFC3339Nano)}); err != nil {
			log.Warn().Err(err).Msg("note the acknowledgement for the other nodes; one of them may acknowledge the package again")
		}
	}
	if mine != nil {
		in.process(mine, nil)
	}
	if err != nil {
		return stored, fmt.Errorf("acknowledge %s: %w", it.DocID, err)
	}
	return stored, nil
}

// ackedAfter reports whether a node acknowledged a package after t.
func ackedAfter(r *queue.Record, t time.Time) bool {
	at, err := time.Parse(time.RFC3339Nano, r.Meta[metaAcked])
	return err == nil && at.After(t)
}

// maxFetcherApplies is the largest status package a fetcher verifies
// itself; a larger one (a status carries no attachment, so it is odd)
// waits for a receiver like a document.
const maxFetcherApplies = 1 << 20

// applyFetched verifies a fetched status package from its file. When it
// is authentic and applies to one of our documents, it returns it, to be
// stored done with its status applied; otherwise nil, and the package
// takes the usual way, which decides and answers (a recall request, a
// forged or refused status).
func (in *inbound) applyFetched(item *queue.Item) *fetchedStatus {
	at, size := item.Body, item.Body.Size()
	files := in.inbox.scratch(fmt.Sprintf("fetch-%d", fetchScratch.Add(1))) // made only should the package carry attachments
	defer os.RemoveAll(files)
	rec := readIn(&queue.Record{Meta: item.Meta})
	pkg, cr, err := in.verify(at, size, receivedAt(&queue.Record{Created: in.clock.Now()}, rec), files)
	if err != nil || pkg.Package.Kind != envelope.KindStatus {
		return nil
	}
	o := in.originOf(rec, pkg, cr)
	st := pkg.Package.Status
	if !o.axisOK || (o.signed && !o.bound && o.mode == envelope.Require) || !o.authentic() || st.StatusCode == envelope.StatusRecall {
		return nil
	}
	out, why, _ := in.statusTarget(st)
	if why != "" {
		return nil
	}
	return &fetchedStatus{st: st, out: out}
}

// fetchedStatus is a status a fetcher applies as it stores it, and, once
// stored, what became of it.
type fetchedStatus struct {
	st      *envelope.Status
	out     *queue.Record
	applied bool
}

// receiver verifies and delivers stored inbound packages.
//
// The commit that closes a record also leases the next due one, so a busy
// receiver takes one flush per package, not two.
func (in *inbound) receiver(ctx context.Context) {
	var next *queue.Record
	for ctx.Err() == nil {
		r := next
		next = nil
		if r == nil {
			now := in.clock.Now()
			woken := in.wake.wait()
			var err error
			if r, err = queue.Lease(context.Background(), in.store, now, queue.Inbound, 0); err != nil {
				if !errors.Is(err, queue.ErrEmpty) {
					in.log.Error().Err(err).Msg("lease inbound")
				}
				sleep(ctx, in.clock, idle(in.store, queue.Inbound, now), woken)
				continue
			}
		}
		ln := &leaseNext{}
		in.process(r, ln)
		next = ln.next
	}
	// A record leased as the loop stopped waits for its lease to end, as
	// one interrupted by a stop does.
}

// download fetches a listed package into a file of the store's.
func (in *inbound) download(ctx context.Context, l *link, docID string) (queue.PayloadWriter, error) {
	body, err := in.store.NewPayload(ctx)
	if err != nil {
		return nil, localFault(fmt.Errorf("store %s: %w", docID, err))
	}
	lw := &localWriter{w: body}
	bw := bufio.NewWriterSize(lw, 256<<10)
	_, err = l.in().GetEdocTo(ctx, docID, bw)
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		body.Abort()
		if lw.err != nil {
			return nil, localFault(fmt.Errorf("get %s: writing it here: %w", docID, lw.err))
		}
		return nil, fmt.Errorf("get %s: %w", docID, err)
	}
	return body, nil
}

// errLocal marks a failure of this host (a full disk, a broken store),
// which is never held against a package or reported to its sender.
var errLocal = errors.New("local fault")

func localFault(err error) error { return fmt.Errorf("%w: %w", errLocal, err) }

// localRetry is how soon a package a local fault kept out is tried again.
const localRetry = 30 * time.Second

// localWriter remembers the error of the writes it passes on, so a fetch
// tells our disk failing from the axis's answer failing.
type localWriter struct {
	w   io.Writer
	err error
}

func (l *localWriter) Write(p []byte) (int, error) {
	n, err := l.w.Write(p)
	if err != nil && l.err == nil {
		l.err = err
	}
	return n, err
}

// fetchScratch numbers the folders fetchers read packages' files into.
var fetchScratch atomic.Int64
