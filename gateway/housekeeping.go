package gateway

import (
	"context"
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
	src := axisSource{g.axis}
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
	g.m.dirHeld.Set(float64(len(held)))
	for _, h := range held {
		g.log.Warn().Str("code", h.Entry.Code).Str("name", h.Was.Name).Str("change", h.Reason).Time("since", h.Since).
			Msg("directory change held: an agency we exchange with would be deleted or moved; check with the axis operator, then list the code in directory.accept_changes to apply it")
	}
	g.m.dirAgencies.Set(float64(g.dir.Len()))
	g.m.dirSynced.Set(float64(now.Unix()))
	g.log.Info().Int("agencies", g.dir.Len()).Int64("version", g.dir.Version()).Interface("report", rep).Msg("directory synced")
	return nil
}

// housekeeping purges finished records past the retention, hourly.
func (g *Gateway) housekeeping(ctx context.Context) {
	for sleep(ctx, g.clock, time.Hour, nil) {
		cutoff := g.clock.Now().Add(-time.Duration(g.cfg.Outbound.Retention))
		n, err := g.store.Purge(ctx, queue.Done, cutoff)
		if err != nil {
			g.log.Error().Err(err).Msg("purge finished records")
			continue
		}
		if n > 0 {
			g.inbox.drop()
			g.log.Info().Int("records", n).Time("before", cutoff).Msg("purged finished records past retention")
		}
	}
}
