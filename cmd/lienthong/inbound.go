package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"lienthong/gateway/localapi"
)

const inboundLong = `Lists the packages received that could not be handled, while the daemon
runs (GET /v1/inbound/problems):

  dead         a record whose processing was given up: the daemon died on it
               three times, or a fault no retry fixes; its ID is in-…
  unfetchable  a package the axis lists for us that this node could not
               download; set aside after 8 failures, or at once for one that
               can never be fetched, and reported to the axis as failed; its
               ID is the axis DocId, and it is kept until the daemon restarts

Once the cause is fixed, refetch processes a dead record again from the
package stored, or fetches an unfetchable package at the next poll.
set-aside ends a dead record for good once it was dealt with by hand (the
sender asked to send again, the document registered on paper), with the
reason. Each action is an event in the record's history naming the token's
client. Needs an unscoped token.`

func inboundCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "inbound", Short: "list inbound packages that could not be handled; process again or set aside",
		Long: inboundLong, Args: noCommand,
		Example: "  lienthong inbound\n  lienthong inbound refetch in-0000000042\n  lienthong inbound refetch 001a2419378533ac61f6b2655\n  lienthong inbound set-aside in-0000000042 --reason \"Đã đề nghị nơi gửi gửi lại\""}
	api := addAPIFlags(c.PersistentFlags())
	out := addOutput(c)
	c.RunE = func(_ *cobra.Command, _ []string) error {
		return list(e, api, *out, func(cl *localapi.Client) (any, error) { return cl.InboundProblems(e.ctx) })
	}
	refetch := &cobra.Command{Use: "refetch ID", Short: "process a dead record again, or fetch an unfetchable package again", Args: nArgs(1)}
	refetch.RunE = func(_ *cobra.Command, args []string) error {
		return call(e, api, func(cl *localapi.Client) (any, error) { return cl.Refetch(e.ctx, args[0]) })
	}
	aside := &cobra.Command{Use: "set-aside ID", Short: "end a dead inbound record for good, with the reason", Args: nArgs(1)}
	reason := aside.Flags().String("reason", "", "how the package was dealt with (required)")
	aside.RunE = func(c *cobra.Command, args []string) error {
		if *reason == "" {
			return badUsage(c, "--reason is required: say how the package was dealt with")
		}
		return call(e, api, func(cl *localapi.Client) (any, error) { return cl.SetAside(e.ctx, args[0], *reason) })
	}
	c.AddCommand(refetch, aside)
	return c
}

// problemsTable writes the inbound problems, one a line.
func problemsTable(w io.Writer, ps []localapi.InboundProblem) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tFROM\tSINCE\tFAILURES\tLAST ERROR")
	for _, p := range ps {
		state := p.State
		if p.SetAside {
			state += " (set aside)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", p.ID, state, p.From, p.Since.Local().Format(time.DateTime), p.Failures, cutString(p.LastError, 60))
	}
	if len(ps) == 0 {
		fmt.Fprintln(tw, "(none)")
	}
	return tw.Flush()
}
