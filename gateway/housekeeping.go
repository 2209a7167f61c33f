package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"lienthong/directory"
	"lienthong/gateway/axis"
	"lienthong/queue"
)

// axisSource reads the directory from the axis.
type axisSource struct{ c *axis.Client }

var _ directory.Source = axisSource{}

func (s axisSource) Agencies(ctx context.Context) ([]directory.Entry, error) {
	list, err := s.c.GetAgenciesList(ctx)
	return entries(list), err
}

func (s axisSource) Changes(ctx context.Context, since int64) ([]directory.Entry, error) {
	list, err := s.c.GetSynchronizeUnit(ctx)
	var out []directory.Entry
	for _, e := range entries(list) {
		if e.Version > since || e.Version == 0 {
			out = append(out, e)
		}
	}
	return out, err
}

func entries(list []axis.Agency) []directory.Entry {
	out := make([]directory.Entry, len(list))
	for i, a := range list {
		out[i] = directory.Entry{ID: a.ID, Code: a.Code, Name: a.Name, Parent: a.Parent, Mail: a.Mail,
			Version: a.Version, Deleted: a.Deleted, Modified: a.ModifyDate}
	}
	return out
}

// directoryLoop syncs the whole directory when it is empty and the
// changes every sync interval, counted from the last good sync so that a
// restart does not fetch again; a failed sync retries in a minute.
func (g *Gateway) directoryLoop(ctx context.Context) {
	board, shared := g.store.(queue.Board)
	locker, locks := g.store.(queue.Locker)
	if shared && locks {
		g.sharedDirectoryLoop(ctx, board, locker)
		return
	}
	if last := g.dir.LastSync(); !last.IsZero() {
		wait := time.Duration(g.cfg.Directory.SyncInterval) - g.clock.Now().Sub(last)
		if wait > 0 && !sleep(ctx, g.clock, wait, nil) {
			return
		}
	}
	for ctx.Err() == nil {
		wait := time.Duration(g.cfg.Directory.SyncInterval)
		if err := g.SyncDirectory(ctx); err != nil && ctx.Err() == nil {
			g.log.Warn().Err(err).Msg("directory sync failed: retrying in a minute; recipients resolve against the last good copy")
			wait = min(wait, time.Minute)
		}
		sleep(ctx, g.clock, wait, nil)
	}
}

// SyncDirectory fetches the agency directory from the axis: whole when
// none is held yet, else the changes since the held version.
func (g *Gateway) SyncDirectory(ctx context.Context) error {
	now := g.clock.Now()
	var sdk *axis.Client // the directory is read from the first axis speaking the SDK wire
	for _, l := range g.axes.all {
		if c, ok := l.client().(*axis.Client); ok {
			sdk = c
			break
		}
	}
	if sdk == nil {
		return errors.New("no axis speaks the SDK wire, which alone lists the agency directory: sync is off (import one with lienthong dir)")
	}
	src := axisSource{sdk}
	var err error
	var rep directory.ImportReport
	if g.dir.Len() == 0 {
		rep, err = g.dir.SyncFull(ctx, src, now)
	} else {
		rep, err = g.dir.SyncChanges(ctx, src, now)
	}
	if err != nil {
		return err
	}
	if accepted, err := g.dir.Accept(g.cfg.Directory.AcceptChanges, now); err != nil {
		return err
	} else if len(accepted) > 0 {
		g.log.Warn().Strs("codes", accepted).Msg("held directory changes applied, as directory.accept_changes confirms")
	}
	held, err := g.dir.Held()
	if err != nil {
		return err
	}
	for _, h := range held {
		g.log.Warn().Str("code", h.Entry.Code).Str("name", h.Was.Name).Str("change", h.Reason).Time("since", h.Since).
			Msg("directory change held: an agency we exchange with would be deleted or moved; check with the axis operator, then list the code in directory.accept_changes to apply it")
	}
	g.dirMetrics(len(held))
	g.log.Info().Int("agencies", g.dir.Len()).Int64("version", g.dir.Version()).Interface("report", rep).Msg("directory synced")
	return nil
}

// dirMetrics shows the directory held now.
func (g *Gateway) dirMetrics(held int) {
	g.m.dirHeld.Set(float64(held))
	g.m.dirAgencies.Set(float64(g.dir.Len()))
	g.m.dirSynced.Set(float64(g.dir.LastSync().Unix()))
}

// Names on a shared store's board and its locks.
const (
	boardDirectory = "directory"          // the snapshot of the last sync
	boardPartners  = "directory.partners" // every node's partners
	lockDirectory  = "directory-sync"
)

// sharedDirectoryLoop is directoryLoop on nodes sharing a store: one node
// at a time syncs from the axis, under the store's lock, and pins the
// result on the board; the others adopt it, looking every few minutes.
func (g *Gateway) sharedDirectoryLoop(ctx context.Context, board queue.Board, locker queue.Locker) {
	var sh dirShare
	for ctx.Err() == nil {
		wait := min(time.Duration(g.cfg.Directory.SyncInterval), 5*time.Minute)
		if err := g.shareDirectory(ctx, board, locker, &sh); err != nil && ctx.Err() == nil {
			g.log.Warn().Err(err).Msg("directory sync failed: retrying in a minute; recipients resolve against the last good copy")
			wait = min(wait, time.Minute)
		}
		sleep(ctx, g.clock, wait, nil)
	}
}

// dirShare is what a node has exchanged with the board.
type dirShare struct {
	seen time.Time // when the snapshot last read was pinned
	told int       // partners handed to the board
}

// shareDirectory hands the board this node's partners, adopts a newer
// snapshot, and syncs from the axis when the cluster's copy is due and no
// other node is at it.
func (g *Gateway) shareDirectory(ctx context.Context, board queue.Board, locker queue.Locker, sh *dirShare) error {
	if p := g.dir.Partners(); len(p) > sh.told {
		err := board.Modify(ctx, boardPartners, func(old []byte) ([]byte, error) {
			var all []string
			if old != nil {
				if err := json.Unmarshal(old, &all); err != nil {
					return nil, err
				}
			}
			all = append(all, p...)
			slices.Sort(all)
			return json.Marshal(slices.Compact(all))
		})
		if err != nil {
			return err
		}
		sh.told = len(p)
	}
	if err := g.adoptDirectory(ctx, board, sh); err != nil {
		return err
	}
	if g.directoryFresh() {
		return nil
	}
	unlock, ok, err := locker.TryLock(ctx, lockDirectory)
	if err != nil || !ok {
		return err
	}
	defer unlock()
	// Another node may have synced while this one looked.
	if err := g.adoptDirectory(ctx, board, sh); err != nil {
		return err
	}
	if g.directoryFresh() {
		return nil
	}
	if data, _, ok, err := board.Read(ctx, boardPartners, time.Time{}); err != nil {
		return err
	} else if ok {
		var all []string
		if err := json.Unmarshal(data, &all); err != nil {
			return err
		}
		for _, c := range all {
			g.dir.NotePartner(c)
		}
	}
	if err := g.SyncDirectory(ctx); err != nil {
		return err
	}
	snap, err := g.dir.Snapshot()
	if err != nil {
		return err
	}
	return board.Modify(ctx, boardDirectory, func([]byte) ([]byte, error) { return snap, nil })
}

// directoryFresh reports a directory held and synced within the sync
// interval.
func (g *Gateway) directoryFresh() bool {
	return g.dir.Len() > 0 && g.clock.Now().Sub(g.dir.LastSync()) < time.Duration(g.cfg.Directory.SyncInterval)
}

// adoptDirectory takes the snapshot pinned since the last one read, if it
// is newer than the directory held.
func (g *Gateway) adoptDirectory(ctx context.Context, board queue.Board, sh *dirShare) error {
	data, at, ok, err := board.Read(ctx, boardDirectory, sh.seen)
	if err != nil || !ok {
		return err
	}
	adopted, err := g.dir.Adopt(data)
	if err != nil {
		return err
	}
	sh.seen = at
	if adopted {
		held, err := g.dir.Held()
		if err != nil {
			return err
		}
		g.dirMetrics(len(held))
		g.log.Info().Int("agencies", g.dir.Len()).Time("synced", g.dir.LastSync()).Msg("directory taken from the node that synced it")
	}
	return nil
}

// housekeeping purges finished records past the retention, hourly: on
// a shared store, one node at a time, and the others forget the inbox
// items it purged.
func (g *Gateway) housekeeping(ctx context.Context) {
	locker, shared := g.store.(queue.Locker)
	for sleep(ctx, g.clock, time.Hour, nil) {
		if !shared {
			g.purge(ctx)
			continue
		}
		unlock, ok, err := locker.TryLock(ctx, "purge")
		if err == nil && ok {
			g.purge(ctx)
			unlock()
		} else {
			g.inbox.drop()
		}
	}
}

// purge deletes finished records past the retention.
func (g *Gateway) purge(ctx context.Context) {
	keep := time.Duration(g.cfg.Outbound.Retention)
	if e := g.cfg.Evidence; e.Enabled {
		keep = max(keep, time.Duration(e.PackageRetention))
	}
	g.purgeReportRows(ctx)
	cutoff := g.clock.Now().Add(-keep)
	n, err := g.store.Purge(ctx, queue.Done, cutoff)
	if err != nil {
		g.log.Error().Err(err).Msg("purge finished records")
		return
	}
	if n > 0 {
		g.inbox.drop()
		g.log.Info().Int("records", n).Time("before", cutoff).Msg("purged finished records past retention")
	}
}
