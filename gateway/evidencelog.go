package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"lienthong/gateway/evidence"
	"lienthong/gateway/localapi"
	"lienthong/queue"
)

// The evidence log hears the event stream: an event that records a
// package crossing the boundary makes an entry, written in the commit of
// the event. A sealer, one node at a time, numbers the entries and signs
// checkpoints of the tree over them.

// ErrNoEvidence is a call on a gateway that keeps no evidence log.
var ErrNoEvidence = errors.New("the evidence log is off (evidence.enabled = false)")

// openEvidence loads the log's key and hears the store's commits; it runs
// before the first commit of the gateway.
func (g *Gateway) openEvidence() error {
	e := g.cfg.Evidence
	if !e.Enabled {
		return nil
	}
	led, ok := g.store.(queue.Ledger)
	if !ok {
		return errors.New("evidence: this store keeps no log")
	}
	var skey string
	var err error
	if e.Key.Set() {
		if skey, err = e.Key.Read(); err != nil {
			return fmt.Errorf("evidence.key: %w", err)
		}
	} else {
		path := filepath.Join(g.cfg.StateDir, "evidence.key")
		var made bool
		if skey, made, err = evidence.KeyFile(path, "lienthong/"+g.cfg.Agency.Code); err != nil {
			return err
		}
		if made {
			defer func() {
				g.log.Warn().Str("file", path).Str("verifier_key", g.ev.VerifierKey()).
					Msg("evidence key made: back this file up with the state folder, and publish the verifier key (lienthong evidence key) so that other agencies can check your proofs")
			}()
		}
	}
	if g.ev, err = evidence.New(led, skey, g.clock.Now); err != nil {
		return err
	}
	led.Enter(g.evidenceLines, evidence.Seal)
	return nil
}

// evidenceLines makes the entries of a commit's events.
func (g *Gateway) evidenceLines(evs []queue.Event) (lines [][]byte) {
	for _, ev := range evs {
		if e, ok := evidenceEntry(ev, g.cfg.Agency.Code); ok {
			lines = append(lines, evidence.Pending(e, ev.At))
		}
	}
	return lines
}

// evidenceEntry is the entry an event makes, if it records a package
// crossing the boundary: a send the axis took, a package fetched, then
// delivered, quarantined, or a status received. The events of a record's
// history that only echo these (a status sent, heard by the document it
// answers) make none.
func evidenceEntry(ev queue.Event, ours string) (evidence.Entry, bool) {
	a := ev.Attrs
	in := strings.HasPrefix(ev.Record, string(queue.Inbound)+"-")
	e := evidence.Entry{
		Direction: "out", Agency: a[atAgency], Counterpart: a[atCounterpart], DocumentID: a[atDocumentID],
		AxisDocID: a[atAxisDocID], Record: ev.Record, StatusCode: a[atCode], SHA256: a[atSHA256],
	}
	if e.Agency == "" {
		e.Agency = ours
	}
	if e.Counterpart == "" {
		e.Counterpart = ev.Recipient
	}
	if in {
		e.Direction = "in"
	}
	switch {
	case ev.Kind == evSent && !in:
		e.Kind = evidence.KindSent
	case ev.Kind == evFetched && in:
		e.Kind = evidence.KindFetched
	case ev.Kind == evDelivered && in:
		e.Kind = evidence.KindDelivered
	case ev.Kind == evQuarantined && in:
		e.Kind, e.Reason = evidence.KindQuarantined, a[atReason]
	case (ev.Kind == evStatus || ev.Kind == evRecall) && in && a[atDirection] == "in":
		e.Kind = evidence.KindReceived
	default:
		return e, false
	}
	return e, e.SHA256 != ""
}

// evidenceLoop seals the entries every second and signs a checkpoint
// every checkpoint interval while entries arrive; on a shared store, one
// node at a time.
func (g *Gateway) evidenceLoop(ctx context.Context) {
	if g.ev == nil {
		return
	}
	locker, shared := g.store.(queue.Locker)
	var failing bool
	for sleep(ctx, g.clock, time.Second, nil) {
		var err error
		if shared {
			unlock, ok, lerr := locker.TryLock(ctx, "evidence")
			if lerr != nil || !ok {
				g.m.evUnsigned.Set(0) // another node seals, and shows it
				continue
			}
			_, err = g.evidenceCheckpoint(ctx, false)
			unlock()
		} else {
			_, err = g.evidenceCheckpoint(ctx, false)
		}
		switch {
		case err != nil && !failing && ctx.Err() == nil:
			g.log.Error().Err(err).Msg("evidence log: sealing or signing failed; entries wait in the store and are sealed once it works again")
		case err == nil && failing:
			g.log.Info().Msg("evidence log sealing again")
		}
		failing = err != nil
	}
}

// evidenceCheckpoint seals what is pending and signs a checkpoint when
// one is due, or at once when now is set; it returns the latest.
func (g *Gateway) evidenceCheckpoint(ctx context.Context, now bool) (queue.Checkpoint, error) {
	g.evMu.Lock()
	defer g.evMu.Unlock()
	led := g.store.(queue.Ledger)
	n, err := g.ev.Seal(ctx)
	g.m.evEntries.Add(float64(n))
	if err != nil {
		return queue.Checkpoint{}, err
	}
	size, _, err := led.LogSize(ctx)
	if err != nil {
		return queue.Checkpoint{}, err
	}
	last, ok, err := led.LastCheckpoint(ctx)
	if err != nil {
		return queue.Checkpoint{}, err
	}
	due := !ok || g.clock.Now().Sub(last.At) >= time.Duration(g.cfg.Evidence.CheckpointInterval)
	if size > last.Size && (now || due) {
		if last, err = g.ev.Checkpoint(ctx); err != nil {
			return queue.Checkpoint{}, err
		}
	}
	if g.cfg.Evidence.TSA != "" && last.Size > 0 && last.Timestamp == nil && !g.clock.Now().Before(g.tsaNext) {
		g.stamp(ctx, &last)
	}
	if !last.At.IsZero() {
		g.m.evCheckpoint.Set(float64(last.At.Unix()))
	}
	pending, err := led.Pending(ctx)
	if err != nil {
		return last, err
	}
	g.m.evUnsigned.Set(float64(size - last.Size + pending))
	return last, nil
}

// evidenceCaller refuses a token scoped to some agencies: the log is the
// whole gateway's.
func (g *Gateway) evidenceCaller(c Caller) error {
	if g.ev == nil {
		return fmt.Errorf("%w: %w", ErrNotFound, ErrNoEvidence)
	}
	return unscoped(c, "the evidence log is")
}

// stamp has the time-stamping authority stamp a checkpoint; while it
// fails, it is asked again a minute later, and exchange goes on.
func (g *Gateway) stamp(ctx context.Context, cp *queue.Checkpoint) {
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	token, err := evidence.Timestamp(tctx, http.DefaultClient, g.cfg.Evidence.TSA, cp.Note)
	if err == nil {
		err = g.store.(queue.Ledger).StampCheckpoint(ctx, cp.Size, token)
	}
	if err != nil {
		g.m.tsaFailed.Inc()
		g.tsaNext = g.clock.Now().Add(time.Minute)
		g.log.Warn().Err(err).Int64("size", cp.Size).Msg("checkpoint not time-stamped: asking the time-stamping authority again in a minute; exchange goes on")
		return
	}
	cp.Timestamp = token
}

// EvidenceCheckpoint returns the latest checkpoint; with now, it first
// seals the pending entries and signs one of them, for a proof that must
// cover the latest package.
func (g *Gateway) EvidenceCheckpoint(ctx context.Context, c Caller, now bool) (*localapi.EvidenceCheckpoint, error) {
	if err := g.evidenceCaller(c); err != nil {
		return nil, err
	}
	cp, err := g.evidenceCheckpoint(ctx, now)
	if err != nil {
		return nil, edge(err)
	}
	return &localapi.EvidenceCheckpoint{Size: cp.Size, At: cp.At, Checkpoint: string(cp.Note), VerifierKey: g.ev.VerifierKey(), Timestamp: cp.Timestamp}, nil
}

// EvidenceVerify checks the whole log and the packages still stored.
func (g *Gateway) EvidenceVerify(ctx context.Context, c Caller) (*localapi.EvidenceReport, error) {
	if err := g.evidenceCaller(c); err != nil {
		return nil, err
	}
	rep, err := evidence.Verify(ctx, g.store.(queue.Ledger), g.ev.VerifierKey(), evidence.StoreSums(g.store))
	if err != nil {
		return nil, edge(err)
	}
	return ReportView(rep), nil
}

// ReportView is a verification report as the API shows it.
func ReportView(r *evidence.Report) *localapi.EvidenceReport {
	return &localapi.EvidenceReport{OK: r.OK(), Entries: r.Entries, Pending: r.Pending, Checkpoints: r.Checkpoints,
		Packages: r.Packages, Purged: r.Purged, Timestamps: r.Timestamps, Latest: r.Latest, Problems: r.Problems}
}

// EvidenceBundle makes the proof bundle of a document's or a record's
// entries and returns what writes it as a tar stream.
func (g *Gateway) EvidenceBundle(ctx context.Context, c Caller, document, record string) (func(io.Writer) error, error) {
	if err := g.evidenceCaller(c); err != nil {
		return nil, err
	}
	b, err := g.ev.Prove(ctx, evidence.Select{DocumentID: document, Record: record}, evidence.StorePackages(g.store))
	if errors.Is(err, evidence.ErrNoEntries) {
		return nil, fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	if err != nil {
		return nil, edge(err)
	}
	return func(w io.Writer) error { return b.WriteTar(ctx, w) }, nil
}
