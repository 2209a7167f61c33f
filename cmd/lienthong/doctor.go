package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"lienthong/gateway/localapi"
)

const doctorLong = `Asks the running daemon what is wrong (GET /v1/summary) and prints it for a
person: the axis, the queues with the oldest of each, the inbox, the
directory, each agency's signing certificate and the evidence log, then
what needs action. Exits 1 when something does, 0 when all is well: fit for
a cron job or a monitoring check. Needs an unscoped token.`

func doctorCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "doctor", Short: "say what is wrong with the running gateway; exit 1 when something needs action",
		Long: doctorLong, Example: "  lienthong doctor\n  lienthong doctor --json", Args: nArgs(0)}
	api := addAPIFlags(c.Flags())
	asJSON := c.Flags().Bool("json", false, "print the summary as JSON")
	c.RunE = func(_ *cobra.Command, _ []string) error {
		cl, err := api.client()
		if err != nil {
			return err
		}
		s, err := cl.Summary(e.ctx)
		if err != nil {
			return apiError(e, err)
		}
		if *asJSON {
			if err := printJSON(e, s); err != nil {
				return err
			}
		} else {
			printSummary(e.stdout, s)
		}
		if len(s.Problems) > 0 {
			return errReported
		}
		return nil
	}
	return c
}

// printSummary writes a summary for a person.
func printSummary(w io.Writer, s *localapi.Summary) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	a := s.Axis
	axis := a.State
	switch {
	case a.FailingSince != nil:
		axis += " since " + local(*a.FailingSince) + ": " + a.LastError
	case a.LastSuccess != nil:
		axis += ", last answer " + local(*a.LastSuccess)
	}
	fmt.Fprintf(tw, "axis\t%s (breaker %s)\n", axis, a.Breaker)
	row := func(name string, c localapi.Count) {
		if c.Count == 0 {
			fmt.Fprintf(tw, "  %s\t0\n", name)
			return
		}
		fmt.Fprintf(tw, "  %s\t%d\toldest %s\n", name, c.Count, local(*c.Oldest))
	}
	fmt.Fprintln(tw, "outbound")
	row("queued", s.Outbound.Queued)
	row("retrying", s.Outbound.Retry)
	row("sending", s.Outbound.Sending)
	row("dead", s.Outbound.Dead)
	fmt.Fprintln(tw, "inbound")
	row("processing", s.Inbound.Processing)
	row("dead", s.Inbound.Dead)
	row("quarantined", s.Inbound.Quarantined)
	row("unanswered", s.Inbound.Unanswered)
	row("overdue", s.Inbound.Overdue)
	d := s.Directory
	synced := "never synced"
	if d.Synced != nil {
		synced = "synced " + local(*d.Synced)
	}
	fmt.Fprintf(tw, "directory\t%d agencies, %s, %d change(s) held\n", d.Agencies, synced, d.Held)
	for _, ag := range s.Agencies {
		cert := "no signing key"
		if ag.NotAfter != nil {
			cert = fmt.Sprintf("certificate until %s (%d days)", ag.NotAfter.Format(time.DateOnly), int(time.Until(*ag.NotAfter).Hours()/24))
		}
		fmt.Fprintf(tw, "agency %s\t%s\t%s, %d queued\n", ag.Code, ag.Name, cert, ag.Queued)
	}
	if e := s.Evidence; e != nil {
		last := "no checkpoint yet"
		if e.LatestCheckpoint != nil {
			last = "last checkpoint " + local(*e.LatestCheckpoint)
		}
		fmt.Fprintf(tw, "evidence\t%s, %d entries unsigned\n", last, e.Unsigned)
	}
	tw.Flush()
	if len(s.Problems) == 0 {
		fmt.Fprintln(w, "\nall is well")
		return
	}
	fmt.Fprintf(w, "\n%d problem(s) need action:\n", len(s.Problems))
	for _, p := range s.Problems {
		fmt.Fprintln(w, "  - "+strings.TrimSpace(p))
	}
}

// local is a time as a person here reads it.
func local(t time.Time) string { return t.Local().Format("2006-01-02 15:04:05") }
