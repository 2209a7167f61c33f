package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"

	"lienthong/gateway/localapi"
)

const historyLong = `Prints the history of an outbound document (out-…) or of an inbox item
(in-…), oldest first: when it was accepted, signed and sent with the
axis DocId, every retry with its error, every status each recipient
sent or was sent (01–06, 13, 15, 16) with its time, recalls,
revocations and their links. A table on a terminal, JSON otherwise
(or with --json).`

const historyExample = `  lienthong history out-0000000001
  lienthong history --json in-0000000003 | jq '.[] | select(.kind=="status")'`

func historyCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "history ID", Short: "show everything that happened to a document or inbox item",
		Long: historyLong, Example: historyExample, Args: nArgs(1)}
	api := addAPIFlags(c.Flags())
	asJSON := c.Flags().Bool("json", false, "print JSON even on a terminal")
	c.RunE = func(_ *cobra.Command, args []string) error {
		cl, err := api.client()
		if err != nil {
			return err
		}
		id := args[0]
		var evs []localapi.Event
		if strings.HasPrefix(id, "in-") {
			evs, err = cl.InboxEvents(e.ctx, id)
		} else {
			evs, err = cl.DocumentEvents(e.ctx, id)
		}
		if err != nil {
			return apiError(e, err)
		}
		if *asJSON || !terminal(e.stdout) {
			return printJSON(e, evs)
		}
		return historyTable(e.stdout, evs)
	}
	return c
}

// terminal reports whether w is a terminal a person reads.
func terminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

// historyTable prints events one per line, in the local time zone.
func historyTable(w io.Writer, evs []localapi.Event) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tEVENT\tAGENCY\tDETAIL")
	for _, ev := range evs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", ev.Time.Local().Format(time.DateTime), eventName(ev), ev.Recipient, eventDetail(ev))
	}
	return tw.Flush()
}

func eventName(ev localapi.Event) string {
	switch {
	case ev.Code != "" && ev.Direction == "in":
		return ev.Kind + " " + ev.Code + " received"
	case ev.Code != "" && ev.Direction == "out":
		return ev.Kind + " " + ev.Code + " sent"
	}
	return ev.Kind
}

func eventDetail(ev localapi.Event) string {
	var parts []string
	add := func(label, v string) {
		if v != "" {
			parts = append(parts, label+v)
		}
	}
	add("", ev.Description)
	add("by ", ev.Staff)
	add("axis ", ev.AxisDocID)
	add("", ev.DocumentID)
	if ev.SHA256 != "" {
		add("sha256 ", fmt.Sprintf("%s, %d bytes", ev.SHA256, ev.Size))
	}
	add("error: ", ev.Error)
	add("", ev.Reason)
	if ev.NextAttempt != nil {
		add("next ", ev.NextAttempt.Local().Format(time.DateTime))
	}
	add("→ ", ev.Link)
	add("client ", ev.Client)
	return strings.Join(parts, "; ")
}
